"""Protocol constants (RFC 3768, RFC 5798) and keepalived-compatible defaults."""

IPPROTO_VRRP = 112
VRRP_TYPE_ADVERTISEMENT = 1

MCAST_GROUP4 = "224.0.0.18"
MCAST_GROUP6 = "ff02::12"
TTL_VRRP = 255            # RFC 5798 §5.1.1.3 / §5.1.2.3: TTL / hop limit MUST be 255
TOS_VRRP = 0xC0           # keepalived sends IPv4 adverts with TOS 0xC0 (internetwork control)

PRIORITY_STOP = 0         # RFC 5798 §5.2.4: the master stops participating
PRIORITY_OWNER = 255      # RFC 5798 §5.2.4: the address owner
PRIORITY_DEFAULT = 100    # RFC 5798 §6.1
ADVER_INT_DEFAULT_CS = 100  # RFC 5798 §6.1: 1 second, in centiseconds
ADVER_INT_MAX_CS = 4095     # RFC 5798 §5.2.7: 12 bits of centiseconds

AUTH_NONE = 0
AUTH_PASS = 1             # RFC 2338 simple text password, kept by keepalived for v2
AUTH_AH = 2
AUTH_DATA_LEN = 8         # RFC 3768 §5.3.10 (v2 only)

# keepalived defaults for gratuitous ARP / unsolicited NA on becoming master
GARP_MASTER_DELAY_S = 5.0
GARP_MASTER_REPEAT = 5
GARP_MASTER_REFRESH_S = 0.0
GARP_MASTER_REFRESH_REPEAT = 1
DOWN_TIMER_ADVERTS = 3    # RFC 5798 §6.1: Master_Down_Interval = 3 * Master_Adver_Interval + Skew
