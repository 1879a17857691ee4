/* Stand-in for ESP-IDF 6.0's esp_partition.h: what hosts/esp32/native/ota-stage.c uses, for the
 * suite's compile of it (declarations only: nothing here is linked or run). */
#ifndef TORPOR_STAND_IN_ESP_PARTITION_H
#define TORPOR_STAND_IN_ESP_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#include "idf-stand-in.h"

typedef struct {
	const void *flash_chip;
	int type;
	int subtype;
	uint32_t address;
	uint32_t size;
	uint32_t erase_size;
	char label[17];
	bool encrypted;
	bool readonly;
} esp_partition_t;

esp_err_t esp_partition_read(const esp_partition_t *partition, size_t src_offset, void *dst, size_t size);
esp_err_t esp_partition_write(const esp_partition_t *partition, size_t dst_offset, const void *src, size_t size);
esp_err_t esp_partition_erase_range(const esp_partition_t *partition, size_t offset, size_t size);

#endif
