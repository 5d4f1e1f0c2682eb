/* The built-in word list of generated passwords (256 words, 8 bits each). */
#ifndef PUNCHCAT_WORDLIST_H
#define PUNCHCAT_WORDLIST_H

#define WORDLIST_LEN 256
#define WORDLIST_WORD_MAX 7	/* longest word, in characters */

extern const char *const wordlist[WORDLIST_LEN];

#endif
