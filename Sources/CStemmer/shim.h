// Snowball stemmers (Debian libstemmer-dev; it ships no pkg-config file).
#include <libstemmer.h>
