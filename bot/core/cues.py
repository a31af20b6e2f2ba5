"""Small word lists that tell what a message is doing, in Hebrew, Arabic (and Arabizi), English.

They are ordinary vocabulary, not any shop's keywords: words that negate what follows ("not",
"לא", "مش"), mark the main point ("mainly", "בעיקר", "الاهم"), ask for something ("I need",
"צריך", "بدي"), push a subject into the background ("later", "אח״כ", "بعدين", "thanks for"),
greet, thank, or advertise. All entries are written normalised (lower case, final letters
folded, marks removed), as `text.tokenize` returns words.
"""

from __future__ import annotations

from bot.core.text import keyword_tokens, tokenize


def _words(*groups: str) -> frozenset[str]:
    return frozenset(word for group in groups for word in tokenize(group))


def _phrases(*phrases: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(tokenize(phrase)) for phrase in phrases)


#: "not X": a keyword right after one of these (within three words) does not count
NEGATORS = _words(
    "not dont don't doesnt isnt without never nope",
    "לא בלי אל ללא",
    "مش مو ما لا بدون بلاش mish msh mesh mush la2",
)
#: words for "without", one as good as another in a keyword ("ללא גלוטן" is "בלי גלוטן")
WITHOUT = _words("without no", "בלי ללא", "بدون بلا بلاش")
#: "no X" and "אין X" usually say X is missing ("no receipt in my email"), which is about X;
#: they negate only with a word of need: "no need for X", "אין צורך ב-X", "no X needed"
ABSENCE = _words("no", "אין", "ما في")
#: "X is not needed": a keyword followed by a negator and one of these does not count
NOT_NEEDED = _words(
    "needed necessary need required more",
    "צריך צריכה צריכים נחוץ צורך",
    "بدي بدنا لازم ضروري داعي",
)
#: small words that link a verb or a noun to the thing it acts on or names ("freeze my
#: membership", "להקפיא את המנוי", "price of the class", "سعر تبع الاشتراك")
LINKS = _words(
    "the a an my your our his her their its of for this that",
    "את של",
    "تبع حق",
)
#: "…, just Y": ends a negation's reach ("not X, just Y")
NEGATION_STOPS = _words("just only but rather", "רק אלא פשוט אבל", "بس فقط لكن bas")

#: the clause says "this is the point"
FOCUS = _words(
    "main mainly mostly important urgent urgently priority first question now really",
    "regarding",
    "בעיקר העיקר עיקר דחוף קודם הכי רק עכשיו פשוט חשוב לגבי בקשר",
    "الاهم المهم اهم مهم هلق هلأ هلا بس فقط ضروري مستعجل اول بخصوص",
)
#: the clause asks for something
REQUEST = _words(
    "need want like looking please pls plz can could",
    "צריך צריכה צריכים רוצה רוצים מבקש מבקשת אפשר מחפש מחפשת מחפשים תשלחו",
    "بدي بدنا محتاج محتاجه ممكن اريد عايز bdi baddi",
)
#: the clause is background: later, by the way, also, past, thanks for something done
BACKGROUND = _words(
    "later also btw maybe thinking before yesterday last got loved love thanks thank great ago",
    "אחכ אחר אולי גם אתמול קיבלתי תודה ראיתי ראינו היה שעשיתי",
    "بعدين كمان امبارح شكرا يسلمو كنت اجيت قبل",
)
#: a word that opens a contrast: what follows it is usually the point
CONTRAST = _words("but however though", "אבל אך", "لكن بس")

#: words of thanks, praise and acknowledgement: a message of only these wants no card
SOCIAL = _words(
    "thanks thank thx ty great amazing awesome perfect lovely love loved ok okay cool nice",
    "wonderful best gorgeous lol delicious fantastic yummy tasty",
    "תודה תודות מעולה מדהים מושלם אחלה סבבה יופי מותק אוהבת אוהב",
    "מדהימה מדהימים טעים טעימה טעימות מושלמת אהבנו אהבתי נהדר נהדרת",
    "شكرا يسلمو يسلموا تسلم ممتاز رائع حلو زاكي رائعة زاكيه ممتازة حبينا عجبتني عجبنا",
    "спасибо",
)
#: words of thanks and of praise for what was done: a message of these that asks nothing wants
#: no card, even when it names what it thanks for ("thanks for the quick delivery!", "what a
#: cake, the kids loved it")
THANKS = _words(
    "thanks thank thx ty loved delicious amazing awesome gorgeous wonderful fantastic yummy tasty",
    "תודה תודות מדהים מדהימה מדהימים טעים טעימה טעימות מושלם מושלמת אהבנו אהבתי נהדר נהדרת",
    "شكرا يسلمو يسلموا تسلم رائع رائعة زاكي زاكيه ممتاز ممتازة حبينا عجبتني عجبنا",
    "спасибо",
)
#: words of advertising and spam: such a message is never answered
SPAM = _words(
    "click subscribe unsubscribe winner win free loans loan crypto bitcoin casino",
    "לחצו הלוואות הלוואה הגרלה זכית",
    "اشترك اربح مجانا مجاني ربحت قرض",
)
#: function words (pronouns, prepositions, conjunctions, question words, particles) and the
#: everyday words of time: never a topic, so never read as another form, the root or a typo of
#: a keyword ("למחר" is "for tomorrow", not the root of "מחיר"; "ואם" is "and if"). Written as
#: they are, they still match a keyword that is written the same.
FUNCTION_WORDS = _words(
    "a an the and or but if of to in on at for with from by about as into than then so",
    "is are was were be been am do does did have has had can could would will shall should",
    "i you he she it we they me him her us them my your his its our their mine yours",
    "this that these those there here what when where who whom whose how why which",
    "not no yes just also too very only some any all each every other another more most",
    "now today tomorrow tonight yesterday soon later still already again",
    "want wanted ask asked know knew think thought tell told say said get got",
    "thing things something anything",
    "את של על עם אם כי גם או אבל זה זו זאת אלה אלו הוא היא הם הן אני אתה את אנחנו אתם",
    "לי לך לו לה לנו לכם להם אותי אותך אותו אותה אותנו אותם שלי שלך שלו שלה שלנו שלכם",
    "יש אין מה מי מתי איפה איך למה כמה כל עוד כבר רק פה כאן שם כן לא אז אחרי לפני",
    "היום מחר אתמול עכשיו הערב מחרתיים דבר משהו",
    "רציתי רוצה רוצים לשאול שאלה לדעת יודע יודעת תגיד תגידו אמרו אמר אמרה",
    "في من على عن الى الي مع هذا هذه هاد هاذا هادا هاي ذلك تلك انا انت انتي انتو انتم",
    "احنا نحن هو هي هم هن شو ايش وين فين متى امتى ايمتى كيف ليش لماذا قديش كم كل بس",
    "كمان ايضا مش ما لا اذا لو عشان لان لأن يعني عند عندي عندك عندكم عنا هيك",
    "اليوم بكرا بكره امبارح هلق هلا هسا هلأ الحين اشي شي",
    "بدي بدنا اسأل بسأل سؤال بعرف بتعرف بتعرفو قلي قلتلي",
)
#: common words that look like a prefix and a keyword but are another word: "בתור" is "as"
#: (not "in the queue"), "بدور" is "I am looking for" (not "with a turn"), "بمناسبة" is "on
#: the occasion of" (not "with an event"), "بالنسبة" is "as for"
HOMOGRAPHS = _words("בתור כתור", "بدور بدو بمناسبة بالنسبة")
#: "I forgot / left behind / lost …": a message about an item left at the business
LEFT_BEHIND = _words(
    "forgot forgotten lost",
    "שכחתי שכחנו שכחה שכח שכחו נשכח נשכחה נשכחו איבדתי איבדנו",
    "نسيت نسينا نسي نسيو نسيوا ضيعت ضيعنا ضاع ضاعت فقدت",
)
#: after one of those, what makes it "forgot to do something", not an item left behind
FORGOT_TO = _words("to", "ש", "ان اني انه انو")
#: asking for a job, not for a service
JOB_SEEKING = _phrases(
    "looking for a job", "looking for work", "looking for a position", "are you hiring",
    "you hiring", "job opening", "job openings", "my cv", "my resume", "apply for a job",
    "מחפש עבודה", "מחפשת עבודה", "מחפשים עבודה", "קורות חיים", "קורות החיים", "דרושים",
    "צריכים עובדים", "צריכים עובד",
    "بدور على شغل", "بدي اشتغل", "بدي شغل", "بدور شغل", "محتاجين عمال", "محتاجين موظف",
    "محتاجين موظفين", "وظيفه", "وظيفة شاغرة", "سيره ذاتيه",
)  # fmt: skip
#: greetings, whole: a rule whose keywords are mostly these answers any of them
GREETINGS = _phrases(
    "hi", "hii", "hiya", "hello", "hey", "heya", "yo", "howdy", "greetings", "hey there",
    "hi there", "hello there", "good morning", "good afternoon", "good evening", "morning",
    "שלום", "היי", "הי", "הלו", "אהלן", "הללו", "בוקר טוב", "ערב טוב", "צהריים טובים",
    "צהרים טובים", "לילה טוב", "מה נשמע", "מה קורה", "מה שלומך", "שלום רב", "שבת שלום",
    "מרחבא",
    "مرحبا", "مرحبتين", "مرحبه", "اهلا", "اهلين", "هلا", "هاي", "سلام", "السلام عليكم",
    "السلام عليكم ورحمة الله", "السلام عليكم ورحمة الله وبركاته", "صباح الخير", "مساء الخير",
    "مسا الخير", "يعطيكم العافيه", "الله يعطيكم العافيه", "كيفكم", "كيفك",
    "marhaba", "ahlan", "salam", "shalom",
    "привет", "здравствуйте", "добрый день",
)  # fmt: skip
#: the longest greeting, in words
GREETING_WORDS = max(len(g) for g in GREETINGS)
_GREETING_STARTS = frozenset(g[0] for g in GREETINGS)


def greeting_at(tokens: list[str], start: int) -> int:
    """The number of words of the longest greeting starting at `tokens[start]` (0: none)."""
    if start >= len(tokens) or tokens[start] not in _GREETING_STARTS:
        return 0
    for size in range(min(GREETING_WORDS, len(tokens) - start), 0, -1):
        if tuple(tokens[start : start + size]) in GREETINGS:
            return size
    return 0


def is_greeting(phrase: str) -> bool:
    """True if `phrase` (as a keyword is written) is a greeting."""
    return keyword_tokens(phrase) in GREETINGS
