/*
 * The built-in word list for generated passwords.
 *
 * Origin: written for punchcat (common, concrete English words of 3 to 7 letters, no two
 * alike in sound or spelling, none a prefix of another); license: ISC, like the rest of
 * punchcat. 256 words, so each word carries exactly 8 bits.
 */
#include "wordlist.h"

const char *const wordlist[WORDLIST_LEN] = {
	"acid", "acorn", "actor", "adult", "agent", "alarm", "album", "alley",
	"amber", "anchor", "angle", "bison", "apple", "apron", "arch", "arena",
	"arrow", "atlas", "attic", "audio", "autumn", "bacon", "badge", "bagel",
	"baker", "bamboo", "banana", "banjo", "barn", "basket", "beach", "beard",
	"beetle", "bell", "bench", "berry", "bishop", "blade", "blanket", "board",
	"bonus", "bottle", "boxer", "brain", "branch", "bread", "brick", "bridge",
	"broom", "bubble", "bucket", "bugle", "bundle", "butter", "button", "cabin",
	"cable", "cactus", "camel", "camera", "canal", "candle", "canoe", "canvas",
	"canyon", "captain", "carbon", "carpet", "carrot", "castle", "cedar", "cello",
	"cement", "chair", "chalk", "cherry", "chess", "chicken", "circle", "citrus",
	"clock", "cloud", "clover", "coach", "cobra", "cocoa", "coffee", "comet",
	"copper", "coral", "cotton", "cousin", "coyote", "crane", "crayon", "cricket",
	"crystal", "cube", "curtain", "cushion", "daisy", "dance", "denim", "desert",
	"diamond", "dinner", "doctor", "dolphin", "donkey", "dragon", "drawer", "dream",
	"drum", "eagle", "easel", "echo", "elbow", "ember", "engine", "falcon",
	"feather", "fence", "fiddle", "finger", "fishing", "flag", "flame", "flute",
	"forest", "fossil", "fox", "frog", "galaxy", "garden", "garlic", "gecko",
	"giant", "ginger", "giraffe", "glacier", "glove", "goat", "gold", "gorilla",
	"grape", "gravel", "guitar", "hammer", "harbor", "harvest", "hazel", "helmet",
	"heron", "hockey", "honey", "hornet", "horse", "hotel", "igloo", "island",
	"ivory", "jacket", "jaguar", "jelly", "jigsaw", "jungle", "kayak", "kettle",
	"kitten", "koala", "ladder", "lagoon", "lantern", "laptop", "lemon", "leopard",
	"letter", "lizard", "lobster", "magnet", "mango", "maple", "marble", "meadow",
	"melon", "mirror", "monkey", "moose", "muffin", "napkin", "needle", "nickel",
	"noodle", "oasis", "ocean", "olive", "onion", "orange", "orbit", "otter",
	"oyster", "paddle", "panda", "parrot", "peanut", "pebble", "pencil", "pepper",
	"piano", "pickle", "pigeon", "pillow", "pirate", "planet", "pocket", "potato",
	"puzzle", "quartz", "rabbit", "radar", "radio", "raven", "ribbon", "rocket",
	"saddle", "salmon", "sandal", "scarf", "school", "shadow", "silver", "sketch",
	"socket", "spider", "spoon", "statue", "summer", "sunset", "tiger", "timber",
	"tomato", "tractor", "trumpet", "tulip", "turtle", "valley", "velvet", "violin",
	"wagon", "walnut", "whistle", "window", "winter", "wizard", "yogurt", "zebra",
};
