"""Pin map of the STM32 wallbox controller: a NUCLEO-F429ZI with the wallbox shield.

Pin names as the MicroPython stm32 port's board table spells them ("PA3"); the Arduino
names of the Nucleo-144 Zio connector are in the comments. The F429's ADC is 12-bit on a
3.3 V reference (0.806 mV per code). PA7 and PC1/PC4/PC5 stay free for the on-board
Ethernet PHY (RMII), PD8/PD9 for the ST-LINK console (UART3).
"""
from micropython import const

# control pilot: TIM1_CH1 PWM into the +-12 V stage; the CP line comes back through a
# divider (-12..+12 V -> 0.3..3.0 V) to ADC123_IN3
CP_PWM = "PE9"  # D6, TIM1_CH1
CP_PWM_TIMER = const(1)
CP_PWM_CHANNEL = const(1)
CP_ADC = "PA3"  # A0, ADC123_IN3
CP_ZERO_CODE = const(2048)
CP_UV_PER_CODE = const(7163)
# pace of the CP ADC burst (pyb.ADC.read_timed): one sample per 20 us, TIM6 (basic timer)
CP_BURST_TIMER = const(6)
CP_BURST_HZ = const(50000)

# proximity pilot: 1 kOhm pull-up to 3.3 V
PP_ADC = "PC0"  # A1, ADC123_IN10
PP_PULLUP_OHMS = const(1000)

# contactor: coil through a low-side MOSFET; NC mirror contact to GND, pull-up enabled
CONTACTOR_COIL = "PF15"  # D2
CONTACTOR_MIRROR = "PE13"  # D3
CONTACTOR_MIRROR_CLOSED = const(1)

# RDC-DD 6 mA DC module: open-drain fault output (low = fault), test winding driver
RCD_FAULT = "PE11"  # D5
RCD_FAULT_LEVEL = const(0)
RCD_TEST = "PF14"  # D4

# lock actuator: H-bridge IN1/IN2, end switch closed (low) when locked
LOCK_A = "PF13"  # D7
LOCK_B = "PF12"  # D8
LOCK_FEEDBACK = "PD15"  # D9
LOCK_LOCKED_LEVEL = const(0)
LOCK_PULSE_MS = const(300)

# status LED: LD1 (green) on the Nucleo
LED = "PB0"

# energy meter: USART2 (fixed pins PD5 TX / PD6 RX on this board) to a MAX3485
METER_UART = const(2)
METER_DE = "PD4"  # USART2_RTS pin, driven as a GPIO
METER_ADDR = const(1)
METER_BAUD = const(9600)

# QCA7000 on SPI4 (PE2 SCK, PE5 MISO, PE6 MOSI: fixed by the board), SPI mode 3
QCA_SPI_ID = const(4)
QCA_SCK = "PE2"
QCA_MOSI = "PE6"
QCA_MISO = "PE5"
QCA_CS = "PE4"
QCA_INT = "PG2"  # active high, EXTI2
QCA_RESET = "PG3"  # active low
QCA_SPI_BAUD = const(8000000)

# soft timers (machine.Timer(-1)) for the lock pulse and the LED
TIMER_LOCK = const(-1)
TIMER_LED = const(-1)
