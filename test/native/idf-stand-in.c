/*
 * The ESP-IDF functions rtc.c calls, as recorders: each appends "name(arguments)" to stand_in_log,
 * and answers from the stand_in_* settings, so that a test can set up a boot (reset reason, wake
 * cause) and check exactly what rtc.c asked of ESP-IDF.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "stand-in.h"

esp_reset_reason_t stand_in_reset_reason = ESP_RST_POWERON;
esp_sleep_wakeup_cause_t stand_in_wakeup_cause = ESP_SLEEP_WAKEUP_UNDEFINED;
uint64_t stand_in_wake_gpios = ~(uint64_t)0;
uint64_t stand_in_wake_status;
int stand_in_wifi_started = -1;
char stand_in_log[4096];
jmp_buf stand_in_asleep;

void stand_in_reset(void)
{
	stand_in_reset_reason = ESP_RST_POWERON;
	stand_in_wakeup_cause = ESP_SLEEP_WAKEUP_UNDEFINED;
	stand_in_wake_gpios = ~(uint64_t)0;
	stand_in_wake_status = 0;
	stand_in_wifi_started = -1;
	stand_in_log[0] = 0;
}

static void record(const char *format, ...)
{
	size_t used = strlen(stand_in_log);
	va_list args;
	va_start(args, format);
	vsnprintf(stand_in_log + used, sizeof(stand_in_log) - used, format, args);
	va_end(args);
}

esp_reset_reason_t esp_reset_reason(void) { return stand_in_reset_reason; }
uint32_t esp_sleep_get_wakeup_causes(void) { return (uint32_t)1 << stand_in_wakeup_cause; }

bool esp_sleep_is_valid_wakeup_gpio(gpio_num_t gpio_num)
{
	return (gpio_num >= 0) && (gpio_num < 64) && ((stand_in_wake_gpios >> gpio_num) & 1);
}

esp_err_t esp_sleep_enable_timer_wakeup(uint64_t time_in_us)
{
	record("timer(%llu);", (unsigned long long)time_in_us);
	return ESP_OK;
}

#if SOC_PM_SUPPORT_EXT0_WAKEUP
esp_err_t esp_sleep_enable_ext0_wakeup(gpio_num_t gpio_num, int level)
{
	record("ext0(%d,%d);", gpio_num, level);
	return ESP_OK;
}
#endif

#if SOC_PM_SUPPORT_EXT1_WAKEUP
esp_err_t esp_sleep_enable_ext1_wakeup_io(uint64_t io_mask, esp_sleep_ext1_wakeup_mode_t level_mode)
{
	record("ext1(0x%llx,%s);", (unsigned long long)io_mask, ESP_EXT1_WAKEUP_ANY_HIGH == level_mode ? "any-high" : "low");
	return ESP_OK;
}
uint64_t esp_sleep_get_ext1_wakeup_status(void) { return stand_in_wake_status; }
#endif

#if SOC_GPIO_SUPPORT_DEEPSLEEP_WAKEUP
esp_err_t esp_sleep_enable_gpio_wakeup_on_hp_periph_powerdown(uint64_t gpio_pin_mask, esp_sleep_gpio_wake_up_mode_t mode)
{
	record("gpio(0x%llx,%s);", (unsigned long long)gpio_pin_mask, ESP_GPIO_WAKEUP_GPIO_HIGH == mode ? "high" : "low");
	return ESP_OK;
}
uint64_t esp_sleep_get_gpio_wakeup_status(void) { return stand_in_wake_status; }
#endif

esp_err_t esp_sleep_pd_config(esp_sleep_pd_domain_t domain, esp_sleep_pd_option_t option)
{
	record("pd(%d,%d);", (int)domain, (int)option);
	return ESP_OK;
}

void esp_deep_sleep_start(void)
{
	record("sleep;");
	longjmp(stand_in_asleep, 1);
}

esp_err_t rtc_gpio_pullup_en(gpio_num_t gpio_num) { record("pullup(%d);", gpio_num); return ESP_OK; }
esp_err_t rtc_gpio_pullup_dis(gpio_num_t gpio_num) { (void)gpio_num; return ESP_OK; }
esp_err_t rtc_gpio_pulldown_en(gpio_num_t gpio_num) { record("pulldown(%d);", gpio_num); return ESP_OK; }
esp_err_t rtc_gpio_pulldown_dis(gpio_num_t gpio_num) { (void)gpio_num; return ESP_OK; }

esp_err_t esp_wifi_start(void)
{
	record("wifi-start;");
	if (stand_in_wifi_started < 0)
		return ESP_ERR_WIFI_NOT_INIT;
	stand_in_wifi_started = 1;
	return ESP_OK;
}

esp_err_t esp_wifi_stop(void)
{
	record("wifi-stop;");
	if (stand_in_wifi_started < 0)
		return ESP_ERR_WIFI_NOT_INIT;
	stand_in_wifi_started = 0;
	return ESP_OK;
}

esp_err_t esp_read_mac(uint8_t *mac, esp_mac_type_t type)
{
	static const uint8_t station[6] = {0xa4, 0xcf, 0x12, 0x0b, 0xee, 0x5f};
	if (ESP_MAC_WIFI_STA != type)
		return ESP_ERR_INVALID_ARG;
	memcpy(mac, station, sizeof(station));
	return ESP_OK;
}

struct esp_netif_obj { int unused; };
static struct esp_netif_obj gStation;

esp_netif_t *esp_netif_get_handle_from_ifkey(const char *if_key)
{
	return strcmp(if_key, "WIFI_STA_DEF") ? NULL : &gStation;
}

esp_err_t esp_netif_str_to_ip4(const char *src, esp_ip4_addr_t *dst)
{
	unsigned a, b, c, d;
	char extra;
	if ((4 != sscanf(src, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra)) || (a > 255) || (b > 255) || (c > 255) || (d > 255))
		return ESP_FAIL;
	dst->addr = a | (b << 8) | (c << 16) | (d << 24);
	return ESP_OK;
}

esp_err_t esp_netif_set_dns_info(esp_netif_t *esp_netif, esp_netif_dns_type_t type, esp_netif_dns_info_t *dns)
{
	record("dns(%s,%d,0x%08x,%d);", esp_netif == &gStation ? "sta" : "?", (int)type, (unsigned)dns->ip.u_addr.ip4.addr, (int)dns->ip.type);
	return ESP_OK;
}
