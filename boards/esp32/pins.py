"""Pin map of the ESP32 wallbox controller (ESP32-DevKitC, ESP32-WROOM-32 module).

GPIO numbers as ``machine.Pin`` takes them. Analog inputs use ADC1 only: ADC2 belongs to
the Wi-Fi driver while Wi-Fi runs. GPIO 34..39 are inputs without internal pulls, so the
switch inputs placed there have external pull-ups on the carrier board. Strapping pins
(0, 2, 5, 12, 15) carry nothing that could hold them at the wrong level during boot,
except the LED on 2 and the QCA7000 chip select on 5, which are safe at reset.
GPIO 6..11 are the module's flash, 1/3 the USB serial console.
"""
from micropython import const

# control pilot: LEDC PWM into the +-12 V op-amp stage; the CP line comes back through a
# divider (-12..+12 V -> 0.2..2.4 V) to ADC1_CH0
CP_PWM = const(25)
CP_ADC = const(36)  # SENSOR_VP, ADC1_CH0
# ESP32 ADC at 11 dB: ~0.81 mV per code; the divider gives ~10.9 mV at CP per mV at the pin
CP_ZERO_CODE = const(1613)
CP_UV_PER_CODE = const(8800)

# proximity pilot: 1 kOhm pull-up to 3.3 V, ADC1_CH3
PP_ADC = const(39)  # SENSOR_VN
PP_PULLUP_OHMS = const(1000)

# contactor: coil through a low-side MOSFET; the mirror (NC auxiliary) contact pulls the
# input low while the main contacts are open -> reads 1 when closed
CONTACTOR_COIL = const(26)
CONTACTOR_MIRROR = const(35)  # input only, external 10 kOhm pull-up
CONTACTOR_MIRROR_CLOSED = const(1)

# RDC-DD 6 mA DC module: open-drain fault output (low = fault), test winding driver
RCD_FAULT = const(32)
RCD_FAULT_LEVEL = const(0)
RCD_TEST = const(33)

# lock actuator: DRV8871-style H-bridge IN1/IN2, end switch closed (low) when locked
LOCK_A = const(27)
LOCK_B = const(4)
LOCK_FEEDBACK = const(34)  # input only, external pull-up
LOCK_LOCKED_LEVEL = const(0)
LOCK_PULSE_MS = const(300)

# status LED (the blue LED of most DevKit clones)
LED = const(2)

# energy meter: UART2 to a MAX3485, DE and /RE tied together
METER_UART = const(2)
METER_TX = const(17)
METER_RX = const(16)
METER_DE = const(13)
METER_ADDR = const(1)
METER_BAUD = const(9600)

# QCA7000 HomePlug Green PHY modem on VSPI (MicroPython SPI id 2), SPI mode 3
QCA_SPI_ID = const(2)
QCA_SCK = const(18)
QCA_MOSI = const(23)
QCA_MISO = const(19)
QCA_CS = const(5)
QCA_INT = const(21)  # active high
QCA_RESET = const(22)  # active low
QCA_SPI_BAUD = const(8000000)

# hardware timers (0..3): lock pulse end, LED blinking
TIMER_LOCK = const(0)
TIMER_LED = const(1)
