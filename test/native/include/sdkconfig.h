/* Stand-in for the build's sdkconfig.h: the target chip the test build pretends to be. */
#if !defined(TEST_CHIP_ESP32C3) && !defined(TEST_CHIP_ESP32C6)
#define CONFIG_IDF_TARGET_ESP32 1
#endif
