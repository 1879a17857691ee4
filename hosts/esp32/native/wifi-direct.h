/*
 * A Wi-Fi connection straight to a known access point: its channel and BSSID given to
 * esp_wifi_set_config, so the driver probes that one channel for that one BSSID instead of scanning
 * them all, which the SDK's Wi-Fi (its connect() takes neither) cannot do. The SDK's Wi-Fi object
 * still sees the connection: it follows the driver's events, not its own calls.
 */
#ifndef TORPOR_WIFI_DIRECT_H
#define TORPOR_WIFI_DIRECT_H

#include <stdint.h>

enum {
	TORPOR_DIRECT_IDLE,
	TORPOR_DIRECT_TRYING,
	TORPOR_DIRECT_FAILED,    /* the access point was not there, or turned the node away */
	TORPOR_DIRECT_ASSOCIATED /* the rest (DHCP) is the SDK's Wi-Fi object's to report */
};

/* Starts the connection (Wi-Fi initialised and started by the SDK's Wi-Fi object); 1 if it did. */
int torpor_wifi_direct(const char *ssid, const char *password, int channel, const uint8_t bssid[6]);
/* Where the last torpor_wifi_direct got to: TORPOR_DIRECT_*. */
int torpor_wifi_direct_state(void);
/* Gives up an attempt still under way (before a full scan is started instead). */
void torpor_wifi_direct_abandon(void);

#endif
