/*
 * torpor's ESP32 power layer in plain C: the region of RTC memory that survives deep sleep, the wake
 * cause and reset reason, pin wakes, deep sleep, the radio. No XS in here (power.c binds it to
 * JavaScript), so that the test suite can build it on any machine against stand-ins for the few
 * ESP-IDF functions it calls (test/native/).
 */
#ifndef TORPOR_RTC_H
#define TORPOR_RTC_H

#include <stddef.h>
#include <stdint.h>

#if defined(__has_include)
#if __has_include("mc.defines.h")
#include "mc.defines.h"
#endif
#endif

/*
 * The firmware's retained-state region. ESP32 RTC slow memory is 8 KB in all, and ESP-IDF keeps a
 * few dozen bytes of it for itself (its RTC data and no-init variables, and the ULP's reserve when
 * enabled), so a full 8 KB region does not link: 7.5 KB leaves room for those and for the host area
 * below. A manifest can change it: "defines": {"torpor": {"retained_size": N}}.
 */
#ifdef MODDEF_TORPOR_RETAINED_SIZE
#define TORPOR_RETAINED_SIZE (MODDEF_TORPOR_RETAINED_SIZE)
#else
#define TORPOR_RETAINED_SIZE 7680
#endif

/* The host's own bytes after the state region: the Wi-Fi channel cache (64, hosts/esp32/net-cache.ts),
 * then the TLS session kept across deep sleep (128, hosts/moddable/tls-cache.ts). */
#define TORPOR_HOST_AREA_SIZE 192

uint8_t *torpor_retained(void);
uint8_t *torpor_host_area(void);

/* "power-on", "timer", "pin" or "reset": what src/host.ts calls the wake cause. */
const char *torpor_wake_cause(void);
/* The reset reason by name: "power-on", "deep-sleep", "software", "panic", "watchdog", … */
const char *torpor_reset_reason(void);
/* The GPIOs that woke the chip (ext1 or GPIO wake), as a bit mask; 0 for any other cause. */
uint64_t torpor_wake_pins(void);

/*
 * Arms a wake on the GPIOs in `pins`: each wakes the chip at the level its bit in `high` gives, with
 * the internal pull-up or pull-down its bit in `pull_up` / `pull_down` asks for kept through the
 * sleep. Returns NULL, or why the chip cannot do it (nothing is armed then).
 */
const char *torpor_arm_wake(uint64_t pins, uint64_t high, uint64_t pull_up, uint64_t pull_down);
/* Radio off, the timer armed for `microseconds` (0: no timer), then deep sleep. Does not return. */
void torpor_deep_sleep(uint64_t microseconds);
/* Starts or stops the Wi-Fi driver; returns 1 when it is in the state asked for. */
int torpor_radio(int on);
/* The station MAC address as 12 lowercase hex digits and a NUL, read without starting Wi-Fi. */
void torpor_mac(char hex[13]);
/* Sets the DNS server a static IP configuration needs (DHCP would have supplied one). */
int torpor_set_dns(const char *address);

/* The decisions above, as pure functions of ESP-IDF's values, for the tests. `wakeup_causes` is
 * ESP-IDF 6.0's bit mask (esp_sleep_get_wakeup_causes: bit n for esp_sleep_wakeup_cause_t n). */
const char *torpor_wake_cause_of(int reset_reason, uint32_t wakeup_causes);
const char *torpor_reset_reason_name(int reset_reason);

typedef struct {
	unsigned ext0 : 1;         /* one RTC GPIO, either level (ESP32, S2, S3) */
	unsigned ext1 : 1;         /* several RTC GPIOs */
	unsigned ext1_any_low : 1; /* ext1 can wake when any pin goes low (not on the ESP32: all low) */
	unsigned ext1_per_pin : 1; /* ext1 takes a level per pin (C6, H2) */
	unsigned gpio : 1;         /* deep-sleep GPIO wake, a level per pin (C2, C3, C6, …) */
} torpor_wake_caps;

enum {
	TORPOR_WAKE_NONE,
	TORPOR_WAKE_EXT0,
	TORPOR_WAKE_EXT1,         /* every pin at `level` */
	TORPOR_WAKE_EXT1_PER_PIN, /* each pin at its bit of `high` */
	TORPOR_WAKE_GPIO          /* each pin at its bit of `high` */
};

typedef struct {
	int kind;
	int pin;       /* EXT0 */
	int level;     /* EXT0, EXT1: 1 high, 0 low */
	uint64_t mask; /* EXT1, EXT1_PER_PIN, GPIO */
	uint64_t high; /* EXT1_PER_PIN, GPIO */
} torpor_wake_plan;

/* Chooses how a chip with `caps` wakes on `pins` at the levels in `high`; NULL or why it cannot. */
const char *torpor_plan_wake(const torpor_wake_caps *caps, uint64_t pins, uint64_t high, torpor_wake_plan *plan);

#endif
