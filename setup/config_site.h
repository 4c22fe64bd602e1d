/* pjproject build settings for a hotline node: hundreds of concurrent calls per process.
 * The pjsua defaults (32 calls, 254 conference ports) are sized for a desk phone. */
#define PJSUA_MAX_CALLS                 1024
#define PJSUA_MAX_ACC                   16
#define PJSUA_MAX_CONF_PORTS            4096
#define PJSUA_MAX_PLAYERS               1024
#define PJSUA_MAX_RECORDERS             1024
#define PJ_IOQUEUE_MAX_HANDLES          4096
#define PJSIP_MAX_TSX_COUNT             (64 * 1024 - 1)
#define PJSIP_MAX_DIALOG_COUNT          (64 * 1024 - 1)
#define PJSIP_UDP_SO_SNDBUF_SIZE        (4 * 1024 * 1024)
#define PJSIP_UDP_SO_RCVBUF_SIZE        (4 * 1024 * 1024)
#define PJ_LOG_MAX_LEVEL                5
/* An IVR has no loudspeaker: no echo canceller, no sound device. */
#define PJMEDIA_HAS_SPEEX_AEC           0
#define PJMEDIA_HAS_VIDEO               0
#define PJMEDIA_CONF_USE_SWITCH_BOARD   0
#define PJMEDIA_SOUND_BUFFER_COUNT      16
