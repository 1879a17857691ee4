/* See wifi-direct.h. */
#include <string.h>

#include "esp_event.h"
#include "esp_wifi.h"

#include "wifi-direct.h"

/* Written by the event task, read by the XS task: one int, so no lock. */
static volatile int gState = TORPOR_DIRECT_IDLE;

static void onWiFiEvent(void *arg, esp_event_base_t base, int32_t id, void *data)
{
	(void)arg;
	(void)base;
	(void)data;
	if (TORPOR_DIRECT_TRYING != gState)
		return;
	if (WIFI_EVENT_STA_DISCONNECTED == id)
		gState = TORPOR_DIRECT_FAILED;
	else if (WIFI_EVENT_STA_CONNECTED == id)
		gState = TORPOR_DIRECT_ASSOCIATED;
}

static void copy(uint8_t *to, size_t size, const char *from)
{
	size_t length = strlen(from);
	memcpy(to, from, length < size ? length : size);
}

int torpor_wifi_direct(const char *ssid, const char *password, int channel, const uint8_t bssid[6])
{
	static int registered;
	wifi_config_t config;

	if ((channel < 1) || (channel > 14))
		return 0;
	if (!registered) {
		if (ESP_OK != esp_event_handler_register(WIFI_EVENT, ESP_EVENT_ANY_ID, onWiFiEvent, NULL))
			return 0;
		registered = 1;
	}
	memset(&config, 0, sizeof(config));
	copy(config.sta.ssid, sizeof(config.sta.ssid), ssid);
	copy(config.sta.password, sizeof(config.sta.password), password);
	config.sta.channel = (uint8_t)channel;
	memcpy(config.sta.bssid, bssid, sizeof(config.sta.bssid));
	config.sta.bssid_set = 1;
	config.sta.scan_method = WIFI_FAST_SCAN;
	gState = TORPOR_DIRECT_TRYING;
	if ((ESP_OK != esp_wifi_set_config(WIFI_IF_STA, &config)) || (ESP_OK != esp_wifi_connect())) {
		gState = TORPOR_DIRECT_IDLE;
		return 0;
	}
	return 1;
}

int torpor_wifi_direct_state(void)
{
	return gState;
}

void torpor_wifi_direct_abandon(void)
{
	if (TORPOR_DIRECT_TRYING == gState)
		esp_wifi_disconnect();
	gState = TORPOR_DIRECT_IDLE;
}
