/*
 * CRC-32 from the chip's ROM for src/encoding/crc32 (Host.crc32): esp_rom_crc32_le has its
 * contract exactly (reflected 0xEDB88320, the previous result passed in, complemented in and out;
 * esp_rom_crc.h), and runs from a table in ROM at a few cycles a byte, where XS takes ~23 bytecodes.
 */
#include <stddef.h>
#include <stdint.h>

#include "esp_rom_crc.h"
#include "xsmc.h"

void xs_torpor_crc32(xsMachine *the)
{
	void *data;
	xsUnsignedValue length;
	xsNumberValue start = xsmcToNumber(xsArg(1)), end = xsmcToNumber(xsArg(2));
	uint32_t previous = (uint32_t)xsmcToNumber(xsArg(3));

	xsmcGetBufferReadable(xsArg(0), &data, &length);
	if (!(start >= 0) || !(end >= start) || (end > length))
		xsRangeError("crc32: range outside the buffer");
	xsmcSetNumber(xsResult, esp_rom_crc32_le(previous, (const uint8_t *)data + (xsUnsignedValue)start, (uint32_t)(end - start)));
}
