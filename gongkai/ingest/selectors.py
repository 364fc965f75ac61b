"""What the extractor looks for on a portal page: labels, chrome lines, names, tags and XPaths. Data only.

Kept apart from the code that walks the page (html, metadata, body, title, attachments, classify) so that a
new portal template usually means a new entry here, not new logic. Nothing here reads a DOM; the regexes are
compiled from the tables next to them.
"""

from __future__ import annotations

import re

# --- Metadata block labels ---------------------------------------------------------------------------------

# Labels whose values the pipeline keeps (longest first where one contains another).
META_LABELS: tuple[str, ...] = (
    "信息索引号", "索引号",
    "文件编号", "发文字号", "文号",
    "公开方式", "公开形式", "公开时限", "公开范围",
    "成文日期", "发文日期", "生成日期", "成文时间",
    "公开日期", "发布日期", "公布日期", "发布时间",
    "发布机构", "发布单位", "发文机关", "发文机构", "责任部门",
    "组配分类", "公开目录", "主题分类", "体裁分类",
    "分类",  # gkmlpt (Guangdong) and 吉林 xxgk: 分类：综合政务、计划总结
    "有效性", "文件效力", "统一编号",
    "信息来源", "文章来源", "来源",
    "日期",  # Linhai's info line: 日期：2024-02-01 来源：上盘镇 浏览次数：
)
# Labels of the info line (来源, 发布时间): a page that shows no other kept label has no metadata block.
INFO_LINE_LABELS = frozenset({"信息来源", "文章来源", "来源", "日期", "发布时间", "发布日期", "公开日期", "公布日期"})
# Short labels that are also word endings (更新日期, 截止日期): they count only at the start of a word.
WORD_START_LABELS = frozenset({"日期", "分类", "文章来源"})  # 更新日期, 垃圾分类：, “文章来源：…”
# Counters and widgets: recognised so they end the preceding value, never stored.
IGNORED_LABELS: tuple[str, ...] = (
    "访问次数", "浏览次数", "点击次数", "点击数", "阅读次数", "访问量", "浏览量", "阅读量", "字号", "字体", "分享到",
    "分享", "责任编辑", "编辑", "文章类型",
)

_WS = r"[\s\u3000\xa0]*"
_ALL_LABELS = sorted(META_LABELS + IGNORED_LABELS, key=len, reverse=True)
# Any label above, spaced or not (索 引 号), and the colon after it if there is one.
LABEL_RE = re.compile(
    "(?P<label>" + "|".join(_WS.join(map(re.escape, lab)) for lab in _ALL_LABELS) + ")"
    + r"[ \t\r\n\f\xa0\u3000]*(?P<colon>[:：])?"
)

# Which labels fill which field of the article, in order of preference (the first with a value wins).
INDEX_NO_LABELS = ("索引号", "信息索引号")
# 责任部门 (the department answerable for the page) only where no publisher is named: Jiangxi's ucap pages.
PUBLISHER_LABELS = ("发布机构", "发布单位", "发文机关", "发文机构", "责任部门")
DOC_NO_LABELS = ("文号", "文件编号", "发文字号")
WRITTEN_DATE_LABELS = ("成文日期", "生成日期", "发文日期")
PUBLISHED_DATE_LABELS = ("发布日期", "公开日期", "发布时间", "公布日期", "日期")
CATEGORY_LABELS = ("组配分类", "主题分类", "公开目录", "分类")
SOURCE_LABELS = ("信息来源", "文章来源", "来源")

# --- Characters --------------------------------------------------------------------------------------------

# What a page shows as blank: HTML's whitespace, NBSP and the ideographic space.
BLANK = " \t\r\n\f\xa0\u3000"
# A colon in a text node of its own (<b>索引号</b>：<span>…) separates like a bullet.
BULLETS = BLANK + "•·●◆■▪◇|│/【】[]:："
# Stripped from both ends of a metadata value.
VALUE_STRIP = " \u3000•·●◆■▪|│:：【】"

# --- Tags --------------------------------------------------------------------------------------------------

# Elements whose content is never visible article text.
SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "iframe", "frame", "object", "embed", "select", "option",
     "button", "textarea", "input", "head", "title", "svg", "canvas", "map", "audio", "video"}
)
# Elements that start a new line of text.
BLOCK_TAGS = frozenset(
    {"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead",
     "tbody", "tfoot", "caption", "blockquote", "pre", "section", "article", "header", "footer", "nav",
     "aside", "center", "form", "fieldset", "address", "hr", "figure", "figcaption", "main", "details",
     "summary", "tr", "br"}
)
# A table or list cell is one chunk, whatever spans it is split into: Word-pasted blocks split labels
# (<span>发布</span><span>机构：</span>) and values (某某<span>镇</span>, <span>2025</span>年<span>1</span>月…).
CELL_TAGS = frozenset({"td", "th", "dd", "dt", "li"})
HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Elements that may be a metadata block (the 索引号 table, the info line).
META_BLOCK_TAGS = frozenset({"table", "dl", "ul", "ol", "div", "p"})
# Blocks that may hold a one-word line of the report, and the things a reader clicks.
WORD_BLOCK_TAGS = ("p", "li", "div")
CONTROL_TAGS = frozenset({"a", "area", "button", "input", "select"})

# --- Hidden elements and content sentinels -----------------------------------------------------------------

HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# Classes that front-end frameworks hide by their own stylesheet (AngularJS ng-hide, Bootstrap hidden/d-none,
# screen-reader-only text): a rendered page keeps hidden copies of its title, metadata and body in them. (A
# page's own stylesheet is not read: a script may show what it hides, as nfra.gov.cn's .content{display:none}.)
HIDDEN_CLASSES = frozenset({"ng-hide", "hidden", "d-none", "sr-only", "visually-hidden"})
# The comments and <meta name> that jcms pages put around the article body.
CONTENT_BEGIN_COMMENT = "ZJEG_RSS.content.begin"
CONTENT_END_COMMENT = "ZJEG_RSS.content.end"
CONTENT_START_META = "ContentStart"
CONTENT_END_META = "ContentEnd"

# --- Where the body and the title are ----------------------------------------------------------------------

# Containers that hold the article body on jcms / TRS / ivs templates, best first.
BODY_CONTAINERS: tuple[str, ...] = (
    "//*[@id='zoom']",
    "//*[@id='ivs_content']",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' con_wen ')]",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' article_zoom ')]",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' TRS_Editor ')]",
    # TRS WCM's UEditor output (nmg.gov.cn and the TRS sites of its generation): <div class="view TRS_UEDITOR">.
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' TRS_UEDITOR ')]",
    # The Fujian intensive platform's article page (every county portal of the province, 政府信息公开 and
    # column pages alike): <div class="article_content …"> under the title; its own words, with the TRS_Editor
    # div above when the editor wrote one. A short body (详见附件 and a PDF) is too short for trafilatura.
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' article_content ')]",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' body ')]",
)
ARTICLE_TITLE_META_XPATH = "//meta[@name='ArticleTitle' or @name='articletitle']/@content"
TITLE_RSS_RE = re.compile(r"<!--\s*ZJEG_RSS\.title\.begin\s*-->(.*?)<!--\s*ZJEG_RSS\.title\.end\s*-->", re.S)
# Elements that hold the article title, best first (after the meta and the title sentinels).
TITLE_XPATHS: tuple[str, ...] = (
    "//td[contains(concat(' ', normalize-space(@class), ' '), ' title ')]",
    "//div[contains(concat(' ', normalize-space(@class), ' '), ' title ')]",
    "//*[@id='ivs_title']",
    "//h1",
)
# Headings whose text may open the <title> (see title.heading_opening).
TITLE_HEADING_XPATH = ("//h1|//h2|//h3|//*[contains(translate(@class, 'TIL', 'til'), 'tit')]"
                       "|//*[contains(translate(@id, 'TIL', 'til'), 'tit')]")
# What a portal calls itself: never an article's title, though it fills <title> or the biggest heading of
# pages whose template forgot the article (磐安县人民政府, 庆元县人民政府门户网站, 中国宜春).
SITE_NAME_RE = re.compile(r"^.{2,20}(人民政府(门户网站|网站|网)?|政府门户网站|门户网站|政府网|政务网|政务服务网)$")
# Separators between the parts of a <title> (标题_站点, 标题 - 栏目 - 站点, 站点 | 标题).
# (Not ——: a title's subtitle follows one, 为现代化巴彦淖尔建设凝聚强大智慧和力量——热烈祝贺….)
TITLE_SEPARATOR_RE = re.compile(r"\s*(?:\s[-|_]\s|_|\||｜)\s*")
SITE_NAME_META_XPATH = "//meta[@name='SiteName' or @name='sitename']/@content"
PUBDATE_META_XPATH = "//meta[@name='PubDate' or @name='pubdate']/@content"
BASE_HREF_XPATH = "//base/@href"

# A date opening a text of the info line under the title, unlabelled: with its time (2022-02-11 09:52) or
# before a label of the line (2005年08月16日　来源：新华网). A bare date is a body's dateline (2023年3月28日).
INFO_DATE_RE = re.compile(r"^\s*(\d{4}\s*(年|-|/|\.)\s*\d{1,2}\s*(月|-|/|\.)\s*\d{1,2}\s*日?)"
                          r"\s*(\d{1,2}\s*[:：]\s*\d{2}|.{0,6}(来源|作者|发布|浏览|访问|点击)\S{0,3}\s*[:：])")

# Publish dates in article paths: jcms /art/2024/1/24/, TRS /202401/t20240115_123.html,
# Huzhou platform /20230224/i3513966.html.
URL_DATE_RES = (
    re.compile(r"/art/(\d{4})/(\d{1,2})/(\d{1,2})/"),
    re.compile(r"/t(\d{4})(\d{2})(\d{2})_\d+\.s?html?$"),
    re.compile(r"/(\d{4})(\d{2})(\d{2})/i\d+\.s?html?$"),
)

# --- Chrome: the page's frame, widgets and tool bars -------------------------------------------------------

# ids/classes of header, footer and navigation elements, whose lines are never body.
CHROME_ANCESTOR_RE = re.compile(r"(^|[\s_-])(header|footer|foot|nav|navbar|menu|topbar|bottom)([\s_-]|$)", re.I)
# The site's own frame: header, footer, navigation. Narrower than CHROME_ANCESTOR_RE (no "bottom",
# "foot"): a file list in an article's tail (div.art_bottom, .con-foot, after the body) is the article's.
FRAME_RE = re.compile(r"(^|[\s_-])(header|footer|nav|navbar|menu|topbar)([\s_-]|$)", re.I)
# Widgets a template puts inside the body's container, after the text: related articles, share and
# print bars (div.related, .xgwz 相关文章, .bdsharebuttonbox, .tools).
TAIL_WIDGET_RE = re.compile(r"(^|[\s_-])(related|relate|xgwz|xglj|xgxx|share|bdsharebuttonbox|fenxiang|tools)"
                            r"([\s_-]|$)", re.I)

# A tool-bar word (print, close, bookmark), bare or in 【】. A line of nothing else is the tool bar, except
# where the page's structure says it is a line of the report (see body.body_word_lines).
_TOOL_WORD = r"【?\s*(打印本页|关闭本页|关闭窗口|打印|关闭|收藏本页|收藏)\s*】?"
TOOL_LINE_RE = re.compile(rf"^({_TOOL_WORD}\s*)+$")
# The tool word that can also be a line of a report (a list of office equipment: 电脑 / 打印 / 复印): 打印本页,
# 关闭窗口, 收藏 and the rest are only ever buttons.
BODY_WORD_RE = re.compile(r"^【?\s*打印\s*】?$")
# Lines that are page chrome, for bodies not cut by sentinels (containers, trafilatura). Each is anchored
# to the shape of the widget or info line, never to a word alone: a report may well say 总阅读次数达52万,
# 分享"枫桥经验"做法, 字号老店 or 无障碍模式改造完成, and those lines are body.
CHROME_LINE_RES = [
    re.compile(p)
    for p in (
        r"^◇?\s*(您)?(当前|现在)(所在)?的?位置",
        r"^(发布日期|发布时间|公开日期|信息来源|来源)\s*[:：]\s*[\d\s:：年月日/.\-]*$",
        r"^.{0,60}(访问次数|浏览次数|点击次数|点击数|阅读次数)\s*[:：]?\s*\d*\s*$",
        r"^【?\s*字(号|体)\s*[:：]",
        r"^分享到?\s*[:：]|^扫一扫(在手机|手机)",
        r"^用?(手机|微信)扫一扫.{0,40}$|^扫一扫.{0,12}(打开|浏览|阅读).{0,8}$",
        r"^文章类型\s*[:：]\s*\S{0,6}$",
        TOOL_LINE_RE.pattern,
        r"^编辑\s*[:：]\s*[(（]?\s*$",
        r"^相关(链接|附件)\s*[:：]?$",
        r"^(主办|承办|协办)(单位)?\s*[:：].{0,40}(ICP|备案|网站标识码|电话)",
        r"^.{0,80}(ICP\s*备\s*\d|公网安备\s*\d|网站标识码\s*[:：]?\s*\d|Produced\s+By|大汉网络|大汉版通)",
        r"^(进入)?(老年|无障碍)模式\s*$",
        r"^(上一篇|下一篇)\s*[:：]",
        r"^[（(\[【]?\s*(责任编辑|编辑|审核|校对)\s*[:：].{0,30}$",
        # An info line that opens with something else (the site's address, 巴彦淖尔市政府门户网站) before its
        # date and 来源: www.chinaneast.gov.cn  2005年08月16日　来源：新华网.
        r"^[^，。；！？]{0,40}\d{4}\s*(年|-|/|\.)\s*\d{1,2}\s*(月|-|/|\.)\s*\d{1,2}日?[^，。；！？]{0,12}"
        r"(来源|信息来源|发布机构|作者)\s*[:：][^，。；！？]{0,30}$",
        r"^【?\s*我要纠错\s*】?$",
    )
]
# The heading of a site's copyright or disclaimer notice (版权与免责声明, 振兴东北网版权与免责声明：): the block it
# opens is the site's, not the article's, however many sentences follow it.
NOTICE_HEADING_RE = re.compile(r"^.{0,16}(版权与免责声明|版权及免责声明|免责声明|版权声明|网站声明)\s*[:：]?$")
# A link that only offers the page in another format (pdf下载, word下载, 下载文字版): a download bar, not text.
DOWNLOAD_BUTTON_RE = re.compile(r"^(下载)?(pdf|PDF|word|Word|WORD|wps|文字版|图片版|ofd|OFD)(版|文件)?(下载)?$")
# A line that only names the source, (来源:朱溪镇) or 来源：县统计局: the page's 来源, not the report's text. A
# sentence that opens so (来源：镇统计站数据显示，…; 来源：镇统计站2024年12月快报。) has punctuation and stays.
SOURCE_LINE_RE = re.compile(r"^[（(【\[]?\s*(信息来源|文章来源|稿件来源|来源)\s*[:：]\s*"
                            r"(?P<source>[^，。；！？:：()（）【】\[\]\s][^，。；！？:：()（）【】\[\]]{0,29}?)\s*[)）】\]]?$")
# The label of a line that points at the article's files: 附件：, 附件:, 相关附件：, 附件2：, 【附件】.
ATTACHMENT_LABEL_RE = re.compile(r"^[【\[]?\s*(相关|下载)?附\s*件(下载|列表|信息)?\s*\d{0,2}\s*[】\]]?\s*[:：]?\s*")
# A line that only sends the reader to the files (详见附件。): with file lines, an attachment-only body.
ATTACHMENT_POINTER_RE = re.compile(r"^(详见|见|请见|请查看|具体见|内容见|详情见)附\s*件\s*[。.！!]?$")
# What may stand between file names on such a line: numbering (1. 2、), separators, a size (12.5KB).
FILE_LIST_FILLER_RE = re.compile(r"(\d{1,2}|[一二三四五六七八九十])\s*[.、．:：]|[、，,;；/|]|[（(]\s*[\d.]+\s*[KMG]?B\s*[)）]",
                                 re.I)
# Sentence punctuation: a line that has it is prose, not an info line.
SENTENCE_PUNCT_RE = re.compile(r"[，。；！？]")
# Anywhere in an id or class (btnPrint, printBtn, doPrint, article-print, btnClose), or as a whole name
# (dy, prt); "close" not inside a word (a div.disclosure holds the report).
CONTROL_NAME_RE = re.compile(r"(?i:print|dayin|btn|button|toolbar|toolbox)|(?<![a-z])close|Close"
                             r"|(?<![A-Za-z])(?:dy|prt|gb)(?![A-Za-z])")
# Short text nodes with the first character of a tool word (a Word paste may split the word across spans):
# a one-word line has no longer ones, and a report says 相关 or 机关 in most of its paragraphs.
TOOL_TEXT_XPATH = (".//text()[string-length(normalize-space(.)) <= 20]"
                   "[contains(., '打') or contains(., '关') or contains(., '收')]")

# --- Files -------------------------------------------------------------------------------------------------

# A report shown in an embedded PDF viewer (#pdfshow[data-value], <embed>/<iframe>/<object>), not linked.
EMBEDDED_FILE_XPATH = "//*[@id='pdfshow'][@data-value] | //embed[@src] | //iframe[@src] | //object[@data]"

# --- Pages that are no article -----------------------------------------------------------------------------

# A "page not found" page a portal answers with status 200 (soft 404, anatomy 7.5): its title or heading.
NOT_FOUND_RE = re.compile(r"页面不存在|页面已删除|信息已删除|信息已撤销|文章不存在|找不到(该|此)?页面|页面未找到|404\s*(Not\s*Found|错误)",
                          re.I)
NOT_FOUND_HEADINGS_XPATH = "//h1|//h2|//h3"
# WAF / anti-bot shells: script markers (strong) and words (weak, only on near-empty pages).
CHALLENGE_STRONG_RE = re.compile(
    r"\$_ts\s*=|\$_ts\[|__jsl_clearance|__jsluid|safeline_bot_challenge|safeline_bot_token|"
    r"cf-browser-verification|challenge-platform|<title>\s*Just a moment",
    re.I,
)
CHALLENGE_WEAK_RE = re.compile(r"Just a moment|请稍候|安全验证|访问过于频繁|访问异常|验证码|document\.cookie\s*=", re.I)
# A literal every match of the two patterns above contains (lower-cased): `in` over the lower-cased page
# is ~50x cheaper than those case-blind alternations, which cost a tenth of ingest time on every page.
CHALLENGE_LITERALS = ("$_ts", "__jsl", "safeline_bot_", "cf-browser-verification", "challenge-platform",
                      "just a moment", "请稍候", "安全验证", "访问过于频繁", "访问异常", "验证码", "document.cookie")
