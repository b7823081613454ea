# ruff: noqa: E501  (vendor markup is kept verbatim, long lines and all)
"""Tracker markup as vendors publish it for copy-and-paste, and as WordPress plugins print it.

Each entry: the provider the registry should name, its category, the markup, and
the tracker hosts a browser would contact if the markup ran.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Snippet:
    name: str
    provider: str
    category: str
    html: str
    hosts: tuple[str, ...]
    #: Where it goes: "head" or "body".
    place: str = "head"


GA4 = Snippet(
    "ga4-gtag",
    "google-analytics",
    "statistics",
    """<!-- Google tag (gtag.js) -->
<script async src="https://www.googletagmanager.com/gtag/js?id=G-A1B2C3D4E5"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date());

  gtag('config', 'G-A1B2C3D4E5');
</script>""",
    ("www.googletagmanager.com",),
)

GTM_HEAD = Snippet(
    "gtm-head",
    "google-tag-manager",
    "marketing",
    """<!-- Google Tag Manager -->
<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':
new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],
j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=
'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);
})(window,document,'script','dataLayer','GTM-AB12CD3');</script>
<!-- End Google Tag Manager -->""",
    ("www.googletagmanager.com",),
)

GTM_NOSCRIPT = Snippet(
    "gtm-noscript",
    "google-tag-manager",
    "marketing",
    """<!-- Google Tag Manager (noscript) -->
<noscript><iframe src="https://www.googletagmanager.com/ns.html?id=GTM-AB12CD3"
height="0" width="0" style="display:none;visibility:hidden"></iframe></noscript>
<!-- End Google Tag Manager (noscript) -->""",
    ("www.googletagmanager.com",),
    "body",
)

META_PIXEL = Snippet(
    "meta-pixel",
    "meta-pixel",
    "marketing",
    """<!-- Meta Pixel Code -->
<script>
!function(f,b,e,v,n,t,s)
{if(f.fbq)return;n=f.fbq=function(){n.callMethod?
n.callMethod.apply(n,arguments):n.queue.push(arguments)};
if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';
n.queue=[];t=b.createElement(e);t.async=!0;
t.src=v;s=b.getElementsByTagName(e)[0];
s.parentNode.insertBefore(t,s)}(window, document,'script',
'https://connect.facebook.net/en_US/fbevents.js');
fbq('init', '1234567890123456');
fbq('track', 'PageView');
</script>
<noscript><img height="1" width="1" style="display:none"
src="https://www.facebook.com/tr?id=1234567890123456&ev=PageView&noscript=1"
/></noscript>
<!-- End Meta Pixel Code -->""",
    ("connect.facebook.net", "www.facebook.com"),
)

LINKEDIN = Snippet(
    "linkedin-insight",
    "linkedin-insight",
    "marketing",
    """<script type="text/javascript">
_linkedin_partner_id = "1234567";
window._linkedin_data_partner_ids = window._linkedin_data_partner_ids || [];
window._linkedin_data_partner_ids.push(_linkedin_partner_id);
</script><script type="text/javascript">
(function(l) {
if (!l){window.lintrk = function(a,b){window.lintrk.q.push([a,b])};
window.lintrk.q=[]}
var s = document.getElementsByTagName("script")[0];
var b = document.createElement("script");
b.type = "text/javascript";b.async = true;
b.src = "https://snap.licdn.com/li.lms-analytics/insight.min.js";
s.parentNode.insertBefore(b, s);})(window.lintrk);
</script>
<noscript>
<img height="1" width="1" style="display:none;" alt="" src="https://px.ads.linkedin.com/collect/?pid=1234567&fmt=gif" />
</noscript>""",
    ("snap.licdn.com", "px.ads.linkedin.com"),
    "body",
)

HOTJAR = Snippet(
    "hotjar",
    "hotjar",
    "statistics",
    """<!-- Hotjar Tracking Code for https://www.example.com -->
<script>
    (function(h,o,t,j,a,r){
        h.hj=h.hj||function(){(h.hj.q=h.hj.q||[]).push(arguments)};
        h._hjSettings={hjid:1234567,hjsv:6};
        a=o.getElementsByTagName('head')[0];
        r=o.createElement('script');r.async=1;
        r.src=t+h._hjSettings.hjid+j+h._hjSettings.hjsv;
        a.appendChild(r);
    })(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');
</script>""",
    ("static.hotjar.com",),
)

CLARITY = Snippet(
    "clarity",
    "microsoft-clarity",
    "statistics",
    """<script type="text/javascript">
    (function(c,l,a,r,i,t,y){
        c[a]=c[a]||function(){(c[a].q=c[a].q||[]).push(arguments)};
        t=l.createElement(r);t.async=1;t.src="https://www.clarity.ms/tag/"+i;
        y=l.getElementsByTagName(r)[0];y.parentNode.insertBefore(t,y);
    })(window, document, "clarity", "script", "abcdefghij");
</script>""",
    ("www.clarity.ms",),
)

MATOMO = Snippet(
    "matomo",
    "matomo",
    "statistics",
    """<!-- Matomo -->
<script>
  var _paq = window._paq = window._paq || [];
  /* tracker methods like "setCustomDimension" should be called before "trackPageView" */
  _paq.push(['trackPageView']);
  _paq.push(['enableLinkTracking']);
  (function() {
    var u="https://matomo.example.org/";
    _paq.push(['setTrackerUrl', u+'matomo.php']);
    _paq.push(['setSiteId', '1']);
    var d=document, g=d.createElement('script'), s=d.getElementsByTagName('script')[0];
    g.async=true; g.src=u+'matomo.js'; s.parentNode.insertBefore(g,s);
  })();
</script>
<!-- End Matomo Code -->""",
    ("matomo.example.org",),
)

YOUTUBE = Snippet(
    "youtube",
    "youtube",
    "marketing",
    '<iframe width="560" height="315" src="https://www.youtube.com/embed/dQw4w9WgXcQ?si=abc" '
    'title="YouTube video player" frameborder="0" allow="accelerometer; autoplay; '
    'clipboard-write; encrypted-media; gyroscope; picture-in-picture; web-share" '
    'referrerpolicy="strict-origin-when-cross-origin" allowfullscreen></iframe>',
    ("www.youtube.com",),
    "body",
)

YOUTUBE_NOCOOKIE = Snippet(
    "youtube-nocookie",
    "youtube",
    "marketing",
    '<iframe width="560" height="315" src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ" '
    'title="YouTube video player" allowfullscreen></iframe>',
    ("www.youtube-nocookie.com",),
    "body",
)

VIMEO = Snippet(
    "vimeo",
    "vimeo",
    "marketing",
    '<div style="padding:56.25% 0 0 0;position:relative;"><iframe '
    'src="https://player.vimeo.com/video/76979871?badge=0&amp;autopause=0&amp;player_id=0'
    '&amp;app_id=58479" frameborder="0" allow="autoplay; fullscreen; picture-in-picture; '
    'clipboard-write" style="position:absolute;top:0;left:0;width:100%;height:100%;" '
    'title="The New Vimeo Player"></iframe></div>'
    '<script src="https://player.vimeo.com/api/player.js"></script>',
    ("player.vimeo.com",),
    "body",
)

GOOGLE_MAPS = Snippet(
    "google-maps",
    "google-maps",
    "marketing",
    '<iframe src="https://www.google.com/maps/embed?pb=!1m18!1m12!1m3!1d2!2d10.2!3d56.15" '
    'width="600" height="450" style="border:0;" allowfullscreen="" loading="lazy" '
    'referrerpolicy="no-referrer-when-downgrade"></iframe>',
    ("www.google.com",),
    "body",
)

JETPACK = Snippet(
    "jetpack-stats",
    "jetpack-stats",
    "statistics",
    """<script id="jetpack-stats-js-before">
_stq = window._stq || [];
_stq.push([ "view", JSON.parse("{\\"v\\":\\"ext\\",\\"blog\\":\\"123456\\",\\"post\\":\\"42\\",\\"tz\\":\\"1\\",\\"srv\\":\\"www.example.com\\",\\"j\\":\\"1:13.9\\"}") ]);
_stq.push([ "clickTrackerInit", "123456", "42" ]);
</script>
<script src="https://stats.wp.com/e-202649.js" id="jetpack-stats-js" defer data-wp-strategy="defer"></script>""",
    ("stats.wp.com",),
    "body",
)

SITE_KIT = Snippet(
    "site-kit",
    "google-analytics",
    "statistics",
    """<link rel='dns-prefetch' href='//www.googletagmanager.com' />
<!-- Google tag (gtag.js) snippet added by Site Kit -->
<!-- Google Analytics snippet added by Site Kit -->
<script src="https://www.googletagmanager.com/gtag/js?id=G-A1B2C3D4E5" id="google_gtagjs-js" async></script>
<script id="google_gtagjs-js-after">
window.dataLayer = window.dataLayer || [];function gtag(){dataLayer.push(arguments);}
gtag("set","linker",{"domains":["www.example.com"]});
gtag("js", new Date());
gtag("set", "developer_id.dZTNiMT", true);
gtag("config", "G-A1B2C3D4E5");
</script>
<!-- End Google tag (gtag.js) snippet added by Site Kit -->""",
    ("www.googletagmanager.com",),
)

CORPUS = (
    GA4,
    GTM_HEAD,
    GTM_NOSCRIPT,
    META_PIXEL,
    LINKEDIN,
    HOTJAR,
    CLARITY,
    MATOMO,
    YOUTUBE,
    YOUTUBE_NOCOOKIE,
    VIMEO,
    GOOGLE_MAPS,
    JETPACK,
    SITE_KIT,
)


def page_with(*snippets: Snippet, title: str = "Corpus") -> str:
    """A page carrying ``snippets`` where each vendor says to put it."""
    head = "\n".join(s.html for s in snippets if s.place == "head")
    body = "\n".join(s.html for s in snippets if s.place == "body")
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>\n'
        f"{head}\n</head>\n<body>\n<h1>{title}</h1>\n<p>Some text.</p>\n{body}\n</body></html>"
    )
