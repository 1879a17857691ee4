/* Stand-in for esp_rom_crc.h: the declaration ESP-IDF gives (components/esp_rom/include). */
#include <stdint.h>
uint32_t esp_rom_crc32_le(uint32_t crc, uint8_t const *buf, uint32_t len);
