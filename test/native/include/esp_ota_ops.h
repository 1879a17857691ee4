/* Stand-in for ESP-IDF 6.0's esp_ota_ops.h (app_update): what hosts/esp32/native/ota-stage.c uses,
 * for the suite's compile of it (declarations only). */
#ifndef TORPOR_STAND_IN_ESP_OTA_OPS_H
#define TORPOR_STAND_IN_ESP_OTA_OPS_H

#include "esp_partition.h"

typedef enum {
	ESP_OTA_IMG_NEW = 0x0U,
	ESP_OTA_IMG_PENDING_VERIFY = 0x1U,
	ESP_OTA_IMG_VALID = 0x2U,
	ESP_OTA_IMG_INVALID = 0x3U,
	ESP_OTA_IMG_ABORTED = 0x4U,
	ESP_OTA_IMG_UNDEFINED = 0xFFFFFFFFU
} esp_ota_img_states_t;

const esp_partition_t *esp_ota_get_running_partition(void);
const esp_partition_t *esp_ota_get_next_update_partition(const esp_partition_t *start_from);
esp_err_t esp_ota_set_boot_partition(const esp_partition_t *partition);
esp_err_t esp_ota_get_state_partition(const esp_partition_t *partition, esp_ota_img_states_t *ota_state);
esp_err_t esp_ota_mark_app_valid_cancel_rollback(void);
esp_err_t esp_ota_mark_app_invalid_rollback_and_reboot(void);

#endif
