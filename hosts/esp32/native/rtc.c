/*
 * The ESP-IDF side of torpor's power layer (see rtc.h). The retained region is RTC_NOINIT memory:
 * it keeps its contents through deep sleep and through software resets, and ESP-IDF never
 * initialises it, so after a power-on it holds noise; the first use in a boot clears it then, and
 * the retained-state slots (`RetainedSlots`) see an empty memory rather than a corrupt one.
 */
#include <stdio.h>
#include <string.h>

#include "sdkconfig.h"
#include "esp_attr.h"
#include "esp_idf_version.h"
#include "esp_mac.h"
#include "esp_netif.h"
#include "esp_sleep.h"
#include "esp_system.h"
#include "esp_wifi.h"
#include "driver/rtc_io.h"
#include "soc/soc_caps.h"

#include "rtc.h"

/* ESP-IDF 6.0 renamed the deep-sleep GPIO wake and reports every wake cause at once; 5.x had one. */
#define TORPOR_IDF_6 (ESP_IDF_VERSION >= ESP_IDF_VERSION_VAL(6, 0, 0))

static uint32_t wakeupCauses(void)
{
#if TORPOR_IDF_6
	return esp_sleep_get_wakeup_causes();
#else
	return (uint32_t)1 << esp_sleep_get_wakeup_cause();
#endif
}

#define CAUSE(c) ((uint32_t)1 << (c))

#if TORPOR_IDF_6
#define GPIO_WAKEUP esp_sleep_enable_gpio_wakeup_on_hp_periph_powerdown
#define GPIO_WAKEUP_NAME "esp_sleep_enable_gpio_wakeup_on_hp_periph_powerdown"
#else
#define GPIO_WAKEUP esp_deep_sleep_enable_gpio_wakeup
#define GPIO_WAKEUP_NAME "esp_deep_sleep_enable_gpio_wakeup"
#endif

RTC_NOINIT_ATTR static uint8_t gRegion[TORPOR_RETAINED_SIZE + TORPOR_HOST_AREA_SIZE] __attribute__((aligned(4)));
static uint8_t gRegionReady;

static uint8_t *region(void)
{
	if (!gRegionReady) {
		gRegionReady = 1;
		if (ESP_RST_POWERON == esp_reset_reason())
			memset(gRegion, 0, sizeof(gRegion));
	}
	return gRegion;
}

uint8_t *torpor_retained(void)
{
	return region();
}

uint8_t *torpor_host_area(void)
{
	return region() + TORPOR_RETAINED_SIZE;
}

const char *torpor_wake_cause_of(int reset_reason, uint32_t wakeup_causes)
{
	if (ESP_RST_POWERON == reset_reason)
		return "power-on";
	if (ESP_RST_DEEPSLEEP != reset_reason)
		return "reset";
	/* A pin and the timer together: the pin, whose change is the news (which pins says the log). */
	if (wakeup_causes & (CAUSE(ESP_SLEEP_WAKEUP_EXT0) | CAUSE(ESP_SLEEP_WAKEUP_EXT1) | CAUSE(ESP_SLEEP_WAKEUP_GPIO)))
		return "pin";
	if (wakeup_causes & CAUSE(ESP_SLEEP_WAKEUP_TIMER))
		return "timer";
	/* A wake from deep sleep by nothing torpor armed: say so rather than guess. */
	return "reset";
}

const char *torpor_reset_reason_name(int reset_reason)
{
	switch (reset_reason) {
		case ESP_RST_POWERON: return "power-on";
		case ESP_RST_EXT: return "external";
		case ESP_RST_SW: return "software";
		case ESP_RST_PANIC: return "panic";
		case ESP_RST_INT_WDT: return "interrupt-watchdog";
		case ESP_RST_TASK_WDT: return "task-watchdog";
		case ESP_RST_WDT: return "watchdog";
		case ESP_RST_DEEPSLEEP: return "deep-sleep";
		case ESP_RST_BROWNOUT: return "brownout";
		case ESP_RST_SDIO: return "sdio";
		default: return "unknown";
	}
}

const char *torpor_wake_cause(void)
{
	return torpor_wake_cause_of(esp_reset_reason(), wakeupCauses());
}

const char *torpor_reset_reason(void)
{
	return torpor_reset_reason_name(esp_reset_reason());
}

uint64_t torpor_wake_pins(void)
{
	uint32_t causes = wakeupCauses();
	uint64_t pins = 0;
#if SOC_PM_SUPPORT_EXT1_WAKEUP
	if (causes & CAUSE(ESP_SLEEP_WAKEUP_EXT1))
		pins |= esp_sleep_get_ext1_wakeup_status();
#endif
#if SOC_GPIO_SUPPORT_DEEPSLEEP_WAKEUP
	if (causes & CAUSE(ESP_SLEEP_WAKEUP_GPIO))
		pins |= esp_sleep_get_gpio_wakeup_status();
#endif
	(void)causes;
	return pins;
}

static int count(uint64_t bits)
{
	int n = 0;
	for (; bits; bits &= bits - 1)
		n++;
	return n;
}

static int lowest(uint64_t bits)
{
	int pin = 0;
	while (bits && !(bits & 1)) {
		bits >>= 1;
		pin++;
	}
	return pin;
}

const char *torpor_plan_wake(const torpor_wake_caps *caps, uint64_t pins, uint64_t high, torpor_wake_plan *plan)
{
	memset(plan, 0, sizeof(*plan));
	high &= pins;
	if (!pins)
		return NULL;
	plan->mask = pins;
	plan->high = high;
	if (caps->ext0 && (1 == count(pins))) {
		plan->kind = TORPOR_WAKE_EXT0;
		plan->pin = lowest(pins);
		plan->level = high ? 1 : 0;
		return NULL;
	}
	if (caps->ext1) {
		if (high == pins) {
			plan->kind = TORPOR_WAKE_EXT1;
			plan->level = 1;
			return NULL;
		}
		if (!high && caps->ext1_any_low) {
			plan->kind = TORPOR_WAKE_EXT1;
			plan->level = 0;
			return NULL;
		}
		if (caps->ext1_per_pin) {
			plan->kind = TORPOR_WAKE_EXT1_PER_PIN;
			return NULL;
		}
	}
	if (caps->gpio) {
		plan->kind = TORPOR_WAKE_GPIO;
		return NULL;
	}
	memset(plan, 0, sizeof(*plan));
	if (caps->ext1 && !high)
		return "this chip wakes on several pins only when one of them goes high (ext1 ANY_HIGH): wire the contacts to pull high when they change, or use one pin";
	if (caps->ext1)
		return "the wake pins need different levels, and this chip's ext1 takes one level for all of them";
	if (caps->ext0)
		return "this chip wakes on one pin only";
	return "this chip has no deep-sleep pin wake";
}

static const torpor_wake_caps gCaps = {
#if SOC_PM_SUPPORT_EXT0_WAKEUP
	.ext0 = 1,
#endif
#if SOC_PM_SUPPORT_EXT1_WAKEUP
	.ext1 = 1,
#if !CONFIG_IDF_TARGET_ESP32
	.ext1_any_low = 1,
#endif
#if SOC_PM_SUPPORT_EXT1_WAKEUP_MODE_PER_PIN
	.ext1_per_pin = 1,
#endif
#endif
#if SOC_GPIO_SUPPORT_DEEPSLEEP_WAKEUP
	.gpio = 1,
#endif
};

static char gError[96];

static const char *failed(const char *what, esp_err_t err)
{
	snprintf(gError, sizeof(gError), "%s failed (ESP-IDF error %d)", what, (int)err);
	return gError;
}

#if SOC_RTCIO_INPUT_OUTPUT_SUPPORTED
/* ext0/ext1 pins are read by the RTC domain in deep sleep: their pulls must be set there. */
static const char *rtcPulls(uint64_t pins, uint64_t pull_up, uint64_t pull_down)
{
	int any = 0;
	for (int pin = 0; pin < 64; pin++) {
		uint64_t bit = (uint64_t)1 << pin;
		if (!(pins & bit))
			continue;
		esp_err_t err = (pull_up & bit) ? rtc_gpio_pullup_en((gpio_num_t)pin) : rtc_gpio_pullup_dis((gpio_num_t)pin);
		if (ESP_OK == err)
			err = (pull_down & bit) ? rtc_gpio_pulldown_en((gpio_num_t)pin) : rtc_gpio_pulldown_dis((gpio_num_t)pin);
		if (ESP_OK != err)
			return failed("rtc_gpio pull", err);
		any |= (pull_up | pull_down) & bit ? 1 : 0;
	}
#if SOC_PM_SUPPORT_RTC_PERIPH_PD
	/* Internal pulls hold only while the RTC peripherals stay powered (a few µA more). */
	if (any)
		esp_sleep_pd_config(ESP_PD_DOMAIN_RTC_PERIPH, ESP_PD_OPTION_ON);
#else
	(void)any;
#endif
	return NULL;
}
#endif

const char *torpor_arm_wake(uint64_t pins, uint64_t high, uint64_t pull_up, uint64_t pull_down)
{
	torpor_wake_plan plan;
	const char *error;
	esp_err_t err = ESP_OK;

	for (int pin = 0; pin < 64; pin++) {
		if ((pins >> pin) & 1) {
			if (!esp_sleep_is_valid_wakeup_gpio((gpio_num_t)pin)) {
				snprintf(gError, sizeof(gError), "GPIO %d cannot wake this chip from deep sleep (not an RTC GPIO)", pin);
				return gError;
			}
		}
	}
	error = torpor_plan_wake(&gCaps, pins, high, &plan);
	if (error)
		return error;
	switch (plan.kind) {
#if SOC_PM_SUPPORT_EXT0_WAKEUP
		case TORPOR_WAKE_EXT0:
			err = esp_sleep_enable_ext0_wakeup((gpio_num_t)plan.pin, plan.level);
			if (ESP_OK != err)
				return failed("esp_sleep_enable_ext0_wakeup", err);
			break;
#endif
#if SOC_PM_SUPPORT_EXT1_WAKEUP
		case TORPOR_WAKE_EXT1:
#if CONFIG_IDF_TARGET_ESP32
			/* Planned only as ANY_HIGH here: one low pin goes to ext0, and ALL_LOW means all. */
			err = esp_sleep_enable_ext1_wakeup_io(plan.mask, ESP_EXT1_WAKEUP_ANY_HIGH);
#else
			err = esp_sleep_enable_ext1_wakeup_io(plan.mask, plan.level ? ESP_EXT1_WAKEUP_ANY_HIGH : ESP_EXT1_WAKEUP_ANY_LOW);
#endif
			if (ESP_OK != err)
				return failed("esp_sleep_enable_ext1_wakeup_io", err);
			break;
#if SOC_PM_SUPPORT_EXT1_WAKEUP_MODE_PER_PIN
		case TORPOR_WAKE_EXT1_PER_PIN:
#if TORPOR_IDF_6
			/* 6.0 deprecates the level mask: a chip with a level per pin takes one call per level. */
			if (plan.high)
				err = esp_sleep_enable_ext1_wakeup_io(plan.high, ESP_EXT1_WAKEUP_ANY_HIGH);
			if ((ESP_OK == err) && (plan.mask & ~plan.high))
				err = esp_sleep_enable_ext1_wakeup_io(plan.mask & ~plan.high, ESP_EXT1_WAKEUP_ANY_LOW);
			if (ESP_OK != err)
				return failed("esp_sleep_enable_ext1_wakeup_io", err);
#else
			err = esp_sleep_enable_ext1_wakeup_with_level_mask(plan.mask, plan.high);
			if (ESP_OK != err)
				return failed("esp_sleep_enable_ext1_wakeup_with_level_mask", err);
#endif
			break;
#endif
#endif
#if SOC_GPIO_SUPPORT_DEEPSLEEP_WAKEUP
		case TORPOR_WAKE_GPIO:
			/* ESP-IDF sets the pulls itself for a GPIO wake, from the level (its default). */
			if (plan.high)
				err = GPIO_WAKEUP(plan.high, ESP_GPIO_WAKEUP_GPIO_HIGH);
			if ((ESP_OK == err) && (plan.mask & ~plan.high))
				err = GPIO_WAKEUP(plan.mask & ~plan.high, ESP_GPIO_WAKEUP_GPIO_LOW);
			if (ESP_OK != err)
				return failed(GPIO_WAKEUP_NAME, err);
			return NULL;
#endif
		default:
			return NULL;
	}
#if SOC_RTCIO_INPUT_OUTPUT_SUPPORTED
	return rtcPulls(plan.mask, pull_up, pull_down);
#else
	(void)pull_up;
	(void)pull_down;
	return NULL;
#endif
}

void torpor_deep_sleep(uint64_t microseconds)
{
	/* Whatever the JavaScript side did: a radio left on would be switched off by the sleep anyway,
	 * but ESP-IDF asks for esp_wifi_stop first. Harmless when Wi-Fi never started. */
	esp_wifi_stop();
	if (microseconds)
		esp_sleep_enable_timer_wakeup(microseconds);
	esp_deep_sleep_start();
}

int torpor_radio(int on)
{
	esp_err_t err = on ? esp_wifi_start() : esp_wifi_stop();
	/* Before the SDK's Wi-Fi object first starts the driver there is nothing to stop or start. */
	return (ESP_OK == err) || (ESP_ERR_WIFI_NOT_INIT == err && !on);
}

void torpor_mac(char hex[13])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t mac[6] = {0};
	esp_read_mac(mac, ESP_MAC_WIFI_STA);
	for (int i = 0; i < 6; i++) {
		hex[2 * i] = digits[mac[i] >> 4];
		hex[2 * i + 1] = digits[mac[i] & 15];
	}
	hex[12] = 0;
}

int torpor_set_dns(const char *address)
{
	esp_netif_t *netif = esp_netif_get_handle_from_ifkey("WIFI_STA_DEF");
	esp_netif_dns_info_t dns;
	if (!netif)
		return 0;
	memset(&dns, 0, sizeof(dns));
	if (ESP_OK != esp_netif_str_to_ip4(address, &dns.ip.u_addr.ip4))
		return 0;
	dns.ip.type = ESP_IPADDR_TYPE_V4;
	return ESP_OK == esp_netif_set_dns_info(netif, ESP_NETIF_DNS_MAIN, &dns);
}
