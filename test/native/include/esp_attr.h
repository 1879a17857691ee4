#include "idf-stand-in.h"
