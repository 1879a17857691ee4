/*
 * XS bindings of the ESP32 host's update staging (`otaSlot`, `restart`): the next OTA
 * partition written at any offset, read back and made the boot partition, and ESP-IDF's app
 * rollback. Not the SDK's `ota` module: its esp_ota_begin erases the whole partition and keeps the
 * write position in a RAM handle, so it can neither resume after deep sleep nor take the chunks
 * in the order they arrive (docs/updates.md). Partition offsets here are relative to the slot.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "esp_attr.h"
#include "esp_err.h"
#include "esp_partition.h"
#include "esp_system.h"
#if defined(__has_include) && __has_include("esp_ota_ops.h")
#include "esp_ota_ops.h"
#else
/* Moddable's build has ESP-IDF's components folder on the include path, not app_update's own. */
#include "app_update/include/esp_ota_ops.h"
#endif

#include "xsmc.h"

/* The wakes a pending image has run (the first byte), kept across deep sleep; `otaUpdate` sets it
 * anew at any other boot, since RTC_NOINIT memory holds noise after a power-on. */
RTC_NOINIT_ATTR static uint8_t gPendingWakes[4];

static char gError[96];

static const esp_partition_t *slot(xsMachine *the)
{
	const esp_partition_t *partition = esp_ota_get_next_update_partition(NULL);
	if (!partition)
		xsUnknownError("no OTA partition to stage an update in");
	return partition;
}

static const char *failed(const char *what, esp_err_t err)
{
	snprintf(gError, sizeof(gError), "%s failed (%s)", what, esp_err_to_name(err));
	return gError;
}

/* offset and length as a range inside the slot, or a RangeError. */
static void range(xsMachine *the, const esp_partition_t *partition, xsNumberValue offset, xsNumberValue length)
{
	if (!(offset >= 0) || !(length >= 0) || (offset + length > partition->size))
		xsRangeError("range outside the OTA partition");
}

void xs_torpor_ota_slot_size(xsMachine *the)
{
	const esp_partition_t *partition = esp_ota_get_next_update_partition(NULL);
	if (partition)
		xsmcSetNumber(xsResult, partition->size);
}

void xs_torpor_ota_slot_address(xsMachine *the)
{
	xsmcSetNumber(xsResult, slot(the)->address);
}

void xs_torpor_ota_running_address(xsMachine *the)
{
	const esp_partition_t *running = esp_ota_get_running_partition();
	xsmcSetNumber(xsResult, running ? running->address : 0);
}

void xs_torpor_ota_erase(xsMachine *the)
{
	const esp_partition_t *partition = slot(the);
	xsNumberValue offset = xsmcToNumber(xsArg(0)), length = xsmcToNumber(xsArg(1));
	esp_err_t err;
	range(the, partition, offset, length);
	err = esp_partition_erase_range(partition, (size_t)offset, (size_t)length);
	if (ESP_OK != err)
		xsUnknownError("%s", failed("esp_partition_erase_range", err));
}

void xs_torpor_ota_write(xsMachine *the)
{
	const esp_partition_t *partition = slot(the);
	xsNumberValue offset = xsmcToNumber(xsArg(0));
	void *data;
	xsUnsignedValue length;
	esp_err_t err;
	xsmcGetBufferReadable(xsArg(1), &data, &length);
	range(the, partition, offset, length);
	err = esp_partition_write(partition, (size_t)offset, data, length);
	if (ESP_OK != err)
		xsUnknownError("%s", failed("esp_partition_write", err));
}

void xs_torpor_ota_read(xsMachine *the)
{
	const esp_partition_t *partition = slot(the);
	xsNumberValue offset = xsmcToNumber(xsArg(0)), length = xsmcToNumber(xsArg(1));
	esp_err_t err;
	range(the, partition, offset, length);
	xsmcSetArrayBuffer(xsResult, NULL, (xsUnsignedValue)length);
	err = esp_partition_read(partition, (size_t)offset, xsmcToArrayBuffer(xsResult), (size_t)length);
	if (ESP_OK != err)
		xsUnknownError("%s", failed("esp_partition_read", err));
}

/* The slot (true) or the running partition (false) as the boot partition; why not, or undefined.
 * esp_ota_set_boot_partition checks the image first (its headers and its SHA-256). */
void xs_torpor_ota_set_boot(xsMachine *the)
{
	const esp_partition_t *partition = xsmcToBoolean(xsArg(0)) ? slot(the) : esp_ota_get_running_partition();
	esp_err_t err = esp_ota_set_boot_partition(partition);
	if (ESP_OK != err)
		xsmcSetString(xsResult, (xsStringValue)failed("esp_ota_set_boot_partition", err));
}

void xs_torpor_ota_pending(xsMachine *the)
{
	esp_ota_img_states_t state;
	const esp_partition_t *running = esp_ota_get_running_partition();
	xsmcSetBoolean(xsResult, running && (ESP_OK == esp_ota_get_state_partition(running, &state)) && (ESP_OTA_IMG_PENDING_VERIFY == state));
}

void xs_torpor_ota_slot_given_up(xsMachine *the)
{
	esp_ota_img_states_t state;
	xsmcSetBoolean(xsResult, (ESP_OK == esp_ota_get_state_partition(slot(the), &state)) && ((ESP_OTA_IMG_ABORTED == state) || (ESP_OTA_IMG_INVALID == state)));
}

void xs_torpor_ota_mark_valid(xsMachine *the)
{
	esp_err_t err = esp_ota_mark_app_valid_cancel_rollback();
	if (ESP_OK != err)
		xsmcSetString(xsResult, (xsStringValue)failed("esp_ota_mark_app_valid_cancel_rollback", err));
}

/* Marks the running image invalid and restarts into the previous one; returns only if it cannot. */
void xs_torpor_ota_roll_back(xsMachine *the)
{
	esp_err_t err = esp_ota_mark_app_invalid_rollback_and_reboot();
	xsmcSetString(xsResult, (xsStringValue)failed("esp_ota_mark_app_invalid_rollback_and_reboot", err));
}

void xs_torpor_ota_pending_wakes(xsMachine *the)
{
	xsmcSetHostBuffer(xsResult, gPendingWakes, sizeof(gPendingWakes));
}

/* A software reset: the bootloader then picks the boot partition anew, where a wake from deep
 * sleep would run the image that went to sleep (CONFIG_BOOTLOADER_SKIP_VALIDATE_IN_DEEP_SLEEP). */
void xs_torpor_restart(xsMachine *the)
{
	(void)the;
	esp_restart();
}
