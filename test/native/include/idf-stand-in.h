/*
 * Stand-ins for the few ESP-IDF declarations hosts/esp32/native/rtc.c uses, with ESP-IDF's names,
 * types and values (components/esp_hw_support/include/esp_sleep.h, esp_system/include/esp_system.h,
 * esp_netif, esp_wifi) as ESP-IDF 6.0 has them (esp_idf_version.h says 6.0.2), so that the test suite compiles rtc.c with the machine's C compiler and runs
 * it against test/native/idf-stand-in.c, which records every call. Chip capabilities follow
 * TEST_CHIP_* (soc/soc_caps.h).
 */
#ifndef TORPOR_IDF_STAND_IN_H
#define TORPOR_IDF_STAND_IN_H

#include <stdbool.h>
#include <stdint.h>

#include "sdkconfig.h"
#include "soc/soc_caps.h"

typedef int esp_err_t;
#define ESP_OK 0
#define ESP_FAIL -1
#define ESP_ERR_INVALID_ARG 0x102
#define ESP_ERR_INVALID_STATE 0x103
#define ESP_ERR_WIFI_BASE 0x3000
#define ESP_ERR_WIFI_NOT_INIT (ESP_ERR_WIFI_BASE + 1)

/* RTC_NOINIT_ATTR places a variable in RTC memory; on the host it is ordinary memory. */
#define RTC_NOINIT_ATTR

typedef int gpio_num_t;

typedef enum {
	ESP_RST_UNKNOWN, ESP_RST_POWERON, ESP_RST_EXT, ESP_RST_SW, ESP_RST_PANIC, ESP_RST_INT_WDT,
	ESP_RST_TASK_WDT, ESP_RST_WDT, ESP_RST_DEEPSLEEP, ESP_RST_BROWNOUT, ESP_RST_SDIO
} esp_reset_reason_t;
esp_reset_reason_t esp_reset_reason(void);
void esp_restart(void) __attribute__((__noreturn__));
const char *esp_err_to_name(esp_err_t code);

typedef enum {
	ESP_SLEEP_WAKEUP_UNDEFINED, ESP_SLEEP_WAKEUP_ALL, ESP_SLEEP_WAKEUP_EXT0, ESP_SLEEP_WAKEUP_EXT1,
	ESP_SLEEP_WAKEUP_TIMER, ESP_SLEEP_WAKEUP_TOUCHPAD, ESP_SLEEP_WAKEUP_ULP, ESP_SLEEP_WAKEUP_GPIO,
	ESP_SLEEP_WAKEUP_UART
} esp_sleep_source_t;
typedef esp_sleep_source_t esp_sleep_wakeup_cause_t;

#if SOC_PM_SUPPORT_EXT1_WAKEUP
#if CONFIG_IDF_TARGET_ESP32
typedef enum { ESP_EXT1_WAKEUP_ALL_LOW = 0, ESP_EXT1_WAKEUP_ANY_HIGH = 1 } esp_sleep_ext1_wakeup_mode_t;
#else
typedef enum { ESP_EXT1_WAKEUP_ANY_LOW = 0, ESP_EXT1_WAKEUP_ANY_HIGH = 1 } esp_sleep_ext1_wakeup_mode_t;
#endif
#endif
#if SOC_GPIO_SUPPORT_DEEPSLEEP_WAKEUP
typedef enum { ESP_GPIO_WAKEUP_GPIO_LOW = 0, ESP_GPIO_WAKEUP_GPIO_HIGH = 1 } esp_sleep_gpio_wake_up_mode_t;
#endif
typedef enum { ESP_PD_DOMAIN_RTC_PERIPH, ESP_PD_DOMAIN_XTAL } esp_sleep_pd_domain_t;
typedef enum { ESP_PD_OPTION_OFF, ESP_PD_OPTION_ON, ESP_PD_OPTION_AUTO } esp_sleep_pd_option_t;

uint32_t esp_sleep_get_wakeup_causes(void);
bool esp_sleep_is_valid_wakeup_gpio(gpio_num_t gpio_num);
esp_err_t esp_sleep_enable_timer_wakeup(uint64_t time_in_us);
#if SOC_PM_SUPPORT_EXT0_WAKEUP
esp_err_t esp_sleep_enable_ext0_wakeup(gpio_num_t gpio_num, int level);
#endif
#if SOC_PM_SUPPORT_EXT1_WAKEUP
esp_err_t esp_sleep_enable_ext1_wakeup_io(uint64_t io_mask, esp_sleep_ext1_wakeup_mode_t level_mode);
uint64_t esp_sleep_get_ext1_wakeup_status(void);
#endif
#if SOC_GPIO_SUPPORT_DEEPSLEEP_WAKEUP
esp_err_t esp_sleep_enable_gpio_wakeup_on_hp_periph_powerdown(uint64_t gpio_pin_mask, esp_sleep_gpio_wake_up_mode_t mode);
uint64_t esp_sleep_get_gpio_wakeup_status(void);
#endif
esp_err_t esp_sleep_pd_config(esp_sleep_pd_domain_t domain, esp_sleep_pd_option_t option);
void esp_deep_sleep_start(void) __attribute__((__noreturn__));

esp_err_t rtc_gpio_pullup_en(gpio_num_t gpio_num);
esp_err_t rtc_gpio_pullup_dis(gpio_num_t gpio_num);
esp_err_t rtc_gpio_pulldown_en(gpio_num_t gpio_num);
esp_err_t rtc_gpio_pulldown_dis(gpio_num_t gpio_num);

esp_err_t esp_wifi_start(void);
esp_err_t esp_wifi_stop(void);

typedef enum { ESP_MAC_WIFI_STA, ESP_MAC_WIFI_SOFTAP } esp_mac_type_t;
esp_err_t esp_read_mac(uint8_t *mac, esp_mac_type_t type);

typedef struct esp_netif_obj esp_netif_t;
typedef struct { uint32_t addr; } esp_ip4_addr_t;
typedef struct { uint32_t addr[4]; uint8_t zone; } esp_ip6_addr_t;
typedef struct {
	union { esp_ip6_addr_t ip6; esp_ip4_addr_t ip4; } u_addr;
	uint8_t type;
} esp_ip_addr_t;
#define ESP_IPADDR_TYPE_V4 0
typedef struct { esp_ip_addr_t ip; } esp_netif_dns_info_t;
typedef enum { ESP_NETIF_DNS_MAIN = 0, ESP_NETIF_DNS_BACKUP, ESP_NETIF_DNS_FALLBACK } esp_netif_dns_type_t;
esp_netif_t *esp_netif_get_handle_from_ifkey(const char *if_key);
esp_err_t esp_netif_str_to_ip4(const char *src, esp_ip4_addr_t *dst);
esp_err_t esp_netif_set_dns_info(esp_netif_t *esp_netif, esp_netif_dns_type_t type, esp_netif_dns_info_t *dns);

#endif
