/*
 * Unit tests of hosts/esp32/native/rtc.c, built for the host machine against the ESP-IDF stand-ins
 * (idf-stand-in.c). rtc.c is included, not linked, so that a test can "reboot" (forget that the
 * region was checked this boot). Built once per chip family (TEST_CHIP_*: ESP32 by default,
 * ESP32C3, ESP32C6); prints one "ok"/"not ok" line per check and exits non-zero on a failure.
 */
#include <stdio.h>
#include <string.h>

#include "rtc.c"
#include "stand-in.h"

static int gFailed, gPassed;

static void check(int ok, const char *name, const char *detail)
{
	if (ok) {
		gPassed++;
		printf("ok - %s\n", name);
	}
	else {
		gFailed++;
		printf("not ok - %s%s%s\n", name, detail ? ": " : "", detail ? detail : "");
	}
}

static void checkString(const char *got, const char *expected, const char *name)
{
	char detail[512];
	int ok = (got && expected) ? !strcmp(got, expected) : (got == expected);
	snprintf(detail, sizeof(detail), "got \"%s\", expected \"%s\"", got ? got : "(null)", expected ? expected : "(null)");
	check(ok, name, ok ? NULL : detail);
}

static void boot(esp_reset_reason_t reason, esp_sleep_wakeup_cause_t cause)
{
	stand_in_reset();
	stand_in_reset_reason = reason;
	stand_in_wakeup_cause = cause;
	gRegionReady = 0;
}

static void testRegion(void)
{
	int zero = 1, kept = 1;

	check(TORPOR_RETAINED_SIZE + TORPOR_HOST_AREA_SIZE <= 8192 - 256, "region leaves ESP-IDF a share of the 8 KB of RTC slow memory", NULL);
	check(TORPOR_RETAINED_SIZE % 4 == 0, "state region is whole words", NULL);

	memset(gRegion, 0xa5, sizeof(gRegion));
	boot(ESP_RST_POWERON, ESP_SLEEP_WAKEUP_UNDEFINED);
	uint8_t *state = torpor_retained();
	for (size_t i = 0; i < sizeof(gRegion); i++)
		zero &= (0 == gRegion[i]);
	check(zero, "a power-on clears the region (RTC memory holds noise then)", NULL);
	check(torpor_host_area() == state + TORPOR_RETAINED_SIZE, "host area follows the state region", NULL);

	memset(state, 0x3c, TORPOR_RETAINED_SIZE);
	memset(torpor_host_area(), 0x7e, TORPOR_HOST_AREA_SIZE);
	boot(ESP_RST_DEEPSLEEP, ESP_SLEEP_WAKEUP_TIMER);
	state = torpor_retained();
	for (size_t i = 0; i < TORPOR_RETAINED_SIZE; i++)
		kept &= (0x3c == state[i]);
	for (size_t i = 0; i < TORPOR_HOST_AREA_SIZE; i++)
		kept &= (0x7e == torpor_host_area()[i]);
	check(kept, "a deep-sleep wake keeps the region", NULL);

	boot(ESP_RST_PANIC, ESP_SLEEP_WAKEUP_UNDEFINED);
	check(0x3c == torpor_retained()[0] && 0x3c == torpor_retained()[TORPOR_RETAINED_SIZE - 1], "a panic reset keeps the region (the slots' CRC decides)", NULL);
	memset(torpor_retained(), 0x11, 4);
	check(0x11 == torpor_retained()[3], "the region is cleared at most once per boot", NULL);
}

static void testWakeCause(void)
{
	checkString(torpor_wake_cause_of(ESP_RST_POWERON, CAUSE(ESP_SLEEP_WAKEUP_UNDEFINED)), "power-on", "power-on reset → power-on");
	checkString(torpor_wake_cause_of(ESP_RST_DEEPSLEEP, CAUSE(ESP_SLEEP_WAKEUP_TIMER)), "timer", "deep sleep + timer → timer");
	checkString(torpor_wake_cause_of(ESP_RST_DEEPSLEEP, CAUSE(ESP_SLEEP_WAKEUP_EXT0)), "pin", "deep sleep + ext0 → pin");
	checkString(torpor_wake_cause_of(ESP_RST_DEEPSLEEP, CAUSE(ESP_SLEEP_WAKEUP_EXT1)), "pin", "deep sleep + ext1 → pin");
	checkString(torpor_wake_cause_of(ESP_RST_DEEPSLEEP, CAUSE(ESP_SLEEP_WAKEUP_GPIO)), "pin", "deep sleep + GPIO → pin");
	checkString(torpor_wake_cause_of(ESP_RST_DEEPSLEEP, CAUSE(ESP_SLEEP_WAKEUP_TIMER) | CAUSE(ESP_SLEEP_WAKEUP_GPIO)), "pin", "deep sleep + timer and GPIO at once (6.0 reports both) → pin");
	checkString(torpor_wake_cause_of(ESP_RST_DEEPSLEEP, CAUSE(ESP_SLEEP_WAKEUP_UNDEFINED)), "reset", "deep sleep, cause unknown → reset");
	checkString(torpor_wake_cause_of(ESP_RST_SW, CAUSE(ESP_SLEEP_WAKEUP_TIMER)), "reset", "software reset → reset, whatever the stale cause");
	checkString(torpor_wake_cause_of(ESP_RST_TASK_WDT, CAUSE(ESP_SLEEP_WAKEUP_UNDEFINED)), "reset", "watchdog → reset");
	checkString(torpor_wake_cause_of(ESP_RST_BROWNOUT, CAUSE(ESP_SLEEP_WAKEUP_UNDEFINED)), "reset", "brownout → reset");

	boot(ESP_RST_DEEPSLEEP, ESP_SLEEP_WAKEUP_EXT0);
	checkString(torpor_wake_cause(), "pin", "torpor_wake_cause asks ESP-IDF");
	checkString(torpor_reset_reason(), "deep-sleep", "torpor_reset_reason asks ESP-IDF");
	checkString(torpor_reset_reason_name(ESP_RST_INT_WDT), "interrupt-watchdog", "reset reason names");
	checkString(torpor_reset_reason_name(999), "unknown", "an unknown reset reason");
#if SOC_PM_SUPPORT_EXT1_WAKEUP
	boot(ESP_RST_DEEPSLEEP, ESP_SLEEP_WAKEUP_EXT1);
	stand_in_wake_status = (uint64_t)1 << 33;
	check(torpor_wake_pins() == ((uint64_t)1 << 33), "ext1 wake pins come from ext1 status", NULL);
#endif
	boot(ESP_RST_DEEPSLEEP, ESP_SLEEP_WAKEUP_TIMER);
	stand_in_wake_status = 5;
	check(0 == torpor_wake_pins(), "a timer wake has no wake pins", NULL);
}

#define PIN(n) ((uint64_t)1 << (n))

static void testPlan(void)
{
	const torpor_wake_caps esp32 = {.ext0 = 1, .ext1 = 1};
	const torpor_wake_caps esp32s3 = {.ext0 = 1, .ext1 = 1, .ext1_any_low = 1};
	const torpor_wake_caps esp32c3 = {.gpio = 1};
	const torpor_wake_caps esp32c6 = {.ext1 = 1, .ext1_any_low = 1, .ext1_per_pin = 1, .gpio = 1};
	const torpor_wake_caps none = {0};
	torpor_wake_plan plan;

	check(!torpor_plan_wake(&esp32, 0, 0, &plan) && TORPOR_WAKE_NONE == plan.kind, "no pins: timer only", NULL);
	check(!torpor_plan_wake(&esp32, PIN(33), 0, &plan) && TORPOR_WAKE_EXT0 == plan.kind && 33 == plan.pin && 0 == plan.level, "one pin → ext0 at its level (low)", NULL);
	check(!torpor_plan_wake(&esp32, PIN(39), PIN(39), &plan) && TORPOR_WAKE_EXT0 == plan.kind && 39 == plan.pin && 1 == plan.level, "one pin → ext0 at its level (high)", NULL);
	check(!torpor_plan_wake(&esp32, PIN(32) | PIN(33), PIN(32) | PIN(33), &plan) && TORPOR_WAKE_EXT1 == plan.kind && 1 == plan.level && (PIN(32) | PIN(33)) == plan.mask, "ESP32: several pins waking high → ext1 ANY_HIGH", NULL);
	check(NULL != torpor_plan_wake(&esp32, PIN(32) | PIN(33), 0, &plan) && TORPOR_WAKE_NONE == plan.kind, "ESP32: several pins waking low is refused (ext1 would need all of them low)", NULL);
	check(NULL != torpor_plan_wake(&esp32, PIN(32) | PIN(33), PIN(32), &plan), "ESP32: mixed levels are refused", NULL);
	check(!torpor_plan_wake(&esp32s3, PIN(4) | PIN(5), 0, &plan) && TORPOR_WAKE_EXT1 == plan.kind && 0 == plan.level, "ESP32-S3: several pins waking low → ext1 ANY_LOW", NULL);
	check(!torpor_plan_wake(&esp32c3, PIN(2) | PIN(3), PIN(3), &plan) && TORPOR_WAKE_GPIO == plan.kind && PIN(3) == plan.high, "ESP32-C3: GPIO wake, a level per pin", NULL);
	check(!torpor_plan_wake(&esp32c3, PIN(2), 0, &plan) && TORPOR_WAKE_GPIO == plan.kind, "ESP32-C3: one pin is a GPIO wake too (no ext0)", NULL);
	check(!torpor_plan_wake(&esp32c6, PIN(2) | PIN(3), PIN(3), &plan) && TORPOR_WAKE_EXT1_PER_PIN == plan.kind, "ESP32-C6: mixed levels → ext1 with a level per pin", NULL);
	check(!torpor_plan_wake(&esp32c6, PIN(2) | PIN(3), PIN(2) | PIN(3) | PIN(9), &plan) && PIN(9) != (plan.high & PIN(9)), "levels of pins not armed are ignored", NULL);
	check(NULL != torpor_plan_wake(&none, PIN(1), 0, &plan), "a chip without pin wake refuses", NULL);
}

static void testArm(void)
{
	const char *error;

	boot(ESP_RST_DEEPSLEEP, ESP_SLEEP_WAKEUP_TIMER);
	stand_in_wake_gpios = ~PIN(6);
	error = torpor_arm_wake(PIN(6), 0, PIN(6), 0);
	check(error && strstr(error, "GPIO 6") && !stand_in_log[0], "a GPIO that cannot wake the chip is named, nothing armed", error);

#if CONFIG_IDF_TARGET_ESP32
	boot(ESP_RST_DEEPSLEEP, ESP_SLEEP_WAKEUP_TIMER);
	checkString(torpor_arm_wake(PIN(33), 0, PIN(33), 0), NULL, "ESP32: a door contact on GPIO 33, closed to ground, pull-up on");
	checkString(stand_in_log, "ext0(33,0);pullup(33);pd(0,1);", "ESP32: ext0 low, RTC pull-up, RTC peripherals kept on for it");
	boot(ESP_RST_DEEPSLEEP, ESP_SLEEP_WAKEUP_TIMER);
	checkString(torpor_arm_wake(PIN(32) | PIN(33), PIN(32) | PIN(33), 0, 0), NULL, "ESP32: two contacts waking high, external pulls");
	checkString(stand_in_log, "ext1(0x300000000,any-high);", "ESP32: ext1 ANY_HIGH, no internal pulls, RTC peripherals left to ESP-IDF");
	boot(ESP_RST_DEEPSLEEP, ESP_SLEEP_WAKEUP_TIMER);
	error = torpor_arm_wake(PIN(32) | PIN(33), 0, 0, 0);
	check(error && strstr(error, "goes high") && !stand_in_log[0], "ESP32: two contacts waking low are refused with the way out", error);
#elif defined(TEST_CHIP_ESP32C3)
	boot(ESP_RST_DEEPSLEEP, ESP_SLEEP_WAKEUP_TIMER);
	checkString(torpor_arm_wake(PIN(2) | PIN(3), PIN(3), PIN(2), 0), NULL, "ESP32-C3: two contacts at different levels");
	checkString(stand_in_log, "gpio(0x8,high);gpio(0x4,low);", "ESP32-C3: one GPIO wake per level, pulls left to ESP-IDF");
#elif defined(TEST_CHIP_ESP32C6)
	boot(ESP_RST_DEEPSLEEP, ESP_SLEEP_WAKEUP_TIMER);
	checkString(torpor_arm_wake(PIN(2) | PIN(3), PIN(3), PIN(2), PIN(3)), NULL, "ESP32-C6: two contacts at different levels");
	checkString(stand_in_log, "ext1(0x8,any-high);ext1(0x4,low);pullup(2);pulldown(3);", "ESP32-C6: ext1, one call per level, and RTC pulls");
#endif
}

static void testSleepAndRadio(void)
{
	char hex[13];

	boot(ESP_RST_DEEPSLEEP, ESP_SLEEP_WAKEUP_TIMER);
	if (!setjmp(stand_in_asleep)) {
		torpor_deep_sleep(60000000ull);
		check(0, "deep sleep does not return", NULL);
	}
	checkString(stand_in_log, "wifi-stop;timer(60000000);sleep;", "deep sleep: radio off, then the timer, then sleep");

	boot(ESP_RST_DEEPSLEEP, ESP_SLEEP_WAKEUP_TIMER);
	if (!setjmp(stand_in_asleep))
		torpor_deep_sleep(0);
	checkString(stand_in_log, "wifi-stop;sleep;", "deep sleep for pins only arms no timer");

	boot(ESP_RST_DEEPSLEEP, ESP_SLEEP_WAKEUP_TIMER);
	check(torpor_radio(0), "radio off before Wi-Fi ever started is already off", NULL);
	check(!torpor_radio(1), "radio on before Wi-Fi ever started fails (the SDK's Wi-Fi object starts it)", NULL);
	stand_in_wifi_started = 1;
	check(torpor_radio(0) && 0 == stand_in_wifi_started, "radio off stops Wi-Fi", NULL);
	check(torpor_radio(1) && 1 == stand_in_wifi_started, "radio on starts it again", NULL);

	torpor_mac(hex);
	checkString(hex, "a4cf120bee5f", "MAC address as 12 hex digits");

	stand_in_reset();
	check(torpor_set_dns("192.168.1.1"), "DNS server for a static IP", NULL);
	checkString(stand_in_log, "dns(sta,0,0x0101a8c0,0);", "DNS goes to the station's main server, IPv4");
	check(!torpor_set_dns("192.168.1"), "a malformed DNS address is refused", NULL);
}

int main(void)
{
	testRegion();
	testWakeCause();
	testPlan();
	testArm();
	testSleepAndRadio();
	printf("# passed %d, failed %d\n", gPassed, gFailed);
	return gFailed ? 1 : 0;
}
