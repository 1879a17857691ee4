/*
 * ESP-IDF's esp_rom_crc32_le as its contract has it (esp_rom_crc.h: reflected 0x04c11db7, that is
 * 0xEDB88320, the previous result passed in, `~` on the way in and out), written as ESP-IDF's own
 * Linux-target stand-in for the ROM writes it (components/esp_rom/linux/esp_rom_crc.c), the table
 * built from the polynomial rather than copied. Prints the CRC of each hex argument, then the CRC
 * of all of them chained (each call taking the previous result), one hex number a line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t table[256];

static uint32_t esp_rom_crc32_le(uint32_t crc, uint8_t const *buf, uint32_t len)
{
	uint32_t i;
	crc = ~crc;
	for (i = 0; i < len; i++)
		crc = table[(crc ^ buf[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static size_t unhex(const char *hex, uint8_t *out)
{
	size_t n = strlen(hex) / 2;
	for (size_t i = 0; i < n; i++) {
		unsigned byte;
		sscanf(hex + 2 * i, "%2x", &byte);
		out[i] = (uint8_t)byte;
	}
	return n;
}

int main(int argc, char **argv)
{
	static uint8_t bytes[65536];
	uint32_t chained = 0;
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
		table[n] = c;
	}
	for (int i = 1; i < argc; i++) {
		size_t length = unhex(argv[i], bytes);
		printf("%08x\n", (unsigned)esp_rom_crc32_le(0, bytes, (uint32_t)length));
		chained = esp_rom_crc32_le(chained, bytes, (uint32_t)length);
	}
	printf("%08x\n", (unsigned)chained);
	return 0;
}
