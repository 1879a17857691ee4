/* The settings and the call log of the ESP-IDF stand-ins (idf-stand-in.c), for rtc-test.c. */
#ifndef TORPOR_STAND_IN_H
#define TORPOR_STAND_IN_H

#include <setjmp.h>

#include "idf-stand-in.h"

extern esp_reset_reason_t stand_in_reset_reason;
extern esp_sleep_wakeup_cause_t stand_in_wakeup_cause;
/* GPIOs esp_sleep_is_valid_wakeup_gpio accepts. */
extern uint64_t stand_in_wake_gpios;
/* What esp_sleep_get_ext1_wakeup_status / esp_sleep_get_gpio_wakeup_status answer. */
extern uint64_t stand_in_wake_status;
/* -1: Wi-Fi never initialised; 0 stopped; 1 started. */
extern int stand_in_wifi_started;
extern char stand_in_log[4096];
/* esp_deep_sleep_start jumps here instead of sleeping. */
extern jmp_buf stand_in_asleep;

void stand_in_reset(void);

#endif
