/* Stand-in for esp_idf_version.h: the stand-ins model ESP-IDF 6.0.2, the version the SDK expects. */
#define ESP_IDF_VERSION_VAL(major, minor, patch) (((major) << 16) | ((minor) << 8) | (patch))
#define ESP_IDF_VERSION ESP_IDF_VERSION_VAL(6, 0, 2)
