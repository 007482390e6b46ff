"""Natural-language text for the synthetic world: product, room and comment text.

Text is built from small per-category vocabularies so that a text encoder has real signal to
find: a product's title names its category's nouns, and a comment's wording follows the viewer's
satisfaction (praise, complaint, or a purchase-intent question). English by default; ``zh``
gives Chinese text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from livecart.core.contract import CATEGORIES

Language = Literal["en", "zh"]

NOUNS_EN: Final[dict[str, tuple[str, ...]]] = {
    "fashion": (
        "linen shirt",
        "denim jacket",
        "silk scarf",
        "wool coat",
        "summer dress",
        "sneakers",
    ),
    "beauty": ("lipstick", "face serum", "eye palette", "sunscreen", "night cream", "perfume"),
    "electronics": ("earbuds", "power bank", "smart watch", "phone case", "speaker", "webcam"),
    "home": ("throw blanket", "ceramic vase", "desk lamp", "bath towel set", "candle", "rug"),
    "food": (
        "green tea",
        "dark chocolate",
        "coffee beans",
        "honey jar",
        "spicy noodles",
        "snack box",
    ),
    "sports": ("yoga mat", "running shoes", "dumbbell set", "gym bag", "water bottle", "jump rope"),
    "toys": ("building blocks", "plush bear", "puzzle", "rc car", "board game", "doll house"),
    "books": ("cookbook", "mystery novel", "art book", "notebook", "comic set", "travel guide"),
    "jewelry": (
        "silver ring",
        "pearl earrings",
        "gold necklace",
        "charm bracelet",
        "anklet",
        "brooch",
    ),
    "pets": ("cat tree", "dog leash", "pet bed", "chew toy", "cat food", "aquarium filter"),
    "outdoors": ("camping tent", "hiking pole", "sleeping bag", "lantern", "rain jacket", "cooler"),
    "gaming": ("gaming mouse", "keyboard", "headset", "controller", "mouse pad", "gaming chair"),
}
NOUNS_ZH: Final[dict[str, tuple[str, ...]]] = {
    "fashion": ("亚麻衬衫", "牛仔夹克", "真丝围巾", "羊毛大衣", "连衣裙", "运动鞋"),
    "beauty": ("口红", "精华液", "眼影盘", "防晒霜", "晚霜", "香水"),
    "electronics": ("耳机", "充电宝", "智能手表", "手机壳", "音箱", "摄像头"),
    "home": ("毛毯", "陶瓷花瓶", "台灯", "浴巾套装", "香薰蜡烛", "地毯"),
    "food": ("绿茶", "黑巧克力", "咖啡豆", "蜂蜜", "辣味面", "零食礼盒"),
    "sports": ("瑜伽垫", "跑鞋", "哑铃", "健身包", "水杯", "跳绳"),
    "toys": ("积木", "毛绒熊", "拼图", "遥控车", "桌游", "娃娃屋"),
    "books": ("菜谱", "推理小说", "画册", "笔记本", "漫画套装", "旅行指南"),
    "jewelry": ("银戒指", "珍珠耳环", "金项链", "手链", "脚链", "胸针"),
    "pets": ("猫爬架", "狗绳", "宠物床", "磨牙玩具", "猫粮", "鱼缸过滤器"),
    "outdoors": ("帐篷", "登山杖", "睡袋", "营地灯", "冲锋衣", "保温箱"),
    "gaming": ("游戏鼠标", "机械键盘", "耳麦", "手柄", "鼠标垫", "电竞椅"),
}
ADJECTIVES_EN: Final = (
    "classic",
    "premium",
    "lightweight",
    "limited",
    "cozy",
    "pro",
    "mini",
    "eco",
)
ADJECTIVES_ZH: Final = ("经典", "高端", "轻便", "限量", "舒适", "专业", "迷你", "环保")
SYLLABLES: Final = ("lu", "ma", "ko", "ri", "ven", "so", "ta", "ni", "zen", "ora", "bel", "qi")
ROOM_HOOKS_EN: Final = (
    "flash deals tonight",
    "new arrivals",
    "live Q&A",
    "unboxing haul",
    "weekend sale",
    "try-on",
)
ROOM_HOOKS_ZH: Final = ("今晚秒杀", "新品首发", "直播答疑", "开箱", "周末特卖", "现场试穿")
POSITIVE_EN: Final = (
    "love this {noun}!",
    "just ordered the {noun}, so good",
    "the {noun} looks amazing",
    "best stream today",
    "great quality {noun}",
)
NEGATIVE_EN: Final = (
    "the {noun} is too expensive",
    "looks cheap to me",
    "not for me",
    "boring stream",
    "shipping took forever last time",
)
INTENT_EN: Final = (
    "how much is the {noun}?",
    "is there a discount on the {noun}?",
    "does it ship today?",
)
POSITIVE_ZH: Final = ("太喜欢这个{noun}了!", "刚下单了{noun}", "{noun}看起来很棒", "质量真好")
NEGATIVE_ZH: Final = ("{noun}太贵了", "看起来很廉价", "不适合我", "直播好无聊")
INTENT_ZH: Final = ("{noun}多少钱?", "{noun}有优惠吗?", "今天发货吗?")


@dataclass(frozen=True)
class Vocabulary:
    """The word lists of one language."""

    nouns: dict[str, tuple[str, ...]]
    adjectives: tuple[str, ...]
    hooks: tuple[str, ...]
    positive: tuple[str, ...]
    negative: tuple[str, ...]
    intent: tuple[str, ...]


def vocabulary(language: Language) -> Vocabulary:
    if language == "zh":
        return Vocabulary(
            NOUNS_ZH, ADJECTIVES_ZH, ROOM_HOOKS_ZH, POSITIVE_ZH, NEGATIVE_ZH, INTENT_ZH
        )
    return Vocabulary(NOUNS_EN, ADJECTIVES_EN, ROOM_HOOKS_EN, POSITIVE_EN, NEGATIVE_EN, INTENT_EN)


def made_up_name(rng: np.random.Generator, parts: int = 2) -> str:
    """A pronounceable brand or streamer handle, e.g. 'Luven'."""
    return "".join(rng.choice(SYLLABLES, size=parts)).capitalize()


def product_text(
    rng: np.random.Generator, category: str, brand: str, language: Language
) -> tuple[str, str, str]:
    """(title, description, noun) of a product of ``category``."""
    vocab = vocabulary(language)
    noun = str(rng.choice(vocab.nouns[category]))
    adjective = str(rng.choice(vocab.adjectives))
    if language == "zh":
        return f"{brand} {adjective}{noun}", f"{brand}{adjective}{noun}, 直播间专享价。", noun
    title = f"{brand} {adjective} {noun}"
    description = f"A {adjective} {noun} by {brand}. Loved by {category} fans; live-only price."
    return title, description, noun


ATTRIBUTES: dict[str, tuple[tuple[str, str], ...]] = {
    # (the word in a title, the sentence in a description): properties that cut across category,
    # brand and price, so only a product's text tells them.
    "en": (
        ("Vegan", "Fully vegan: no animal ingredients."),
        ("Handmade", "Handmade in small batches by independent makers."),
        ("Waterproof", "Waterproof, rain or shine."),
        ("Organic", "Certified organic materials."),
    ),
    "zh": (
        ("纯素", "纯素配方, 不含动物成分。"),
        ("手工", "独立匠人小批量手工制作。"),
        ("防水", "全防水, 风雨无阻。"),
        ("有机", "认证有机材料。"),
    ),
}
"""Product attributes some viewers seek (the text-only preferences of a generated world)."""


def with_attribute(
    title: str, description: str, attribute: int, language: Language
) -> tuple[str, str]:
    """The product's title and description naming ``attribute`` (-1: none)."""
    if attribute < 0:
        return title, description
    word, sentence = ATTRIBUTES[language][attribute]
    joiner = "" if language == "zh" else " "
    return f"{word}{joiner}{title}", f"{description} {sentence}"


SEEKING: dict[str, tuple[tuple[str, ...], ...]] = {
    # A viewer's own words at sign-up for the attribute they seek, in the order of ATTRIBUTES.
    # None shares a word with the attribute's title word or sentence: matching them to a
    # product's text takes a language model.
    "en": (
        (
            "I eat plant-based and avoid anything from livestock.",
            "Plant-based all the way, no meat or dairy for me.",
            "Looking for cruelty-free, plant-only stuff.",
        ),
        (
            "I love artisan goods crafted by hand.",
            "Artisan, handcrafted pieces are my thing.",
            "Give me things made by hand, not in a factory.",
        ),
        (
            "Always outdoors in wet weather, my gear has to keep me dry.",
            "I need things that survive a downpour.",
            "Storm-ready everything, I live by the sea.",
        ),
        (
            "Only natural, pesticide-free products for me.",
            "I choose things grown naturally, no chemicals.",
            "Clean, chemical-free farming matters to me.",
        ),
    ),
    "zh": (
        (
            "我吃植物性食物, 不用任何动物制品。",
            "只要植物来源的东西, 拒绝动物成分。",
            "找零残忍、纯植物的好物。",
        ),
        ("喜欢匠人一件件做出来的东西。", "小众手作是我的最爱。", "不要流水线, 要人亲手做的。"),
        (
            "经常在雨里跑, 装备必须挡得住水。",
            "需要下暴雨也不怕的东西。",
            "住在海边, 什么都得不怕雨。",
        ),
        ("只买天然、无农药的产品。", "选纯天然的东西, 不要化学品。", "在意无化学品的种植方式。"),
    ),
}
"""What a viewer who seeks an attribute writes when asked at sign-up what they shop for."""
NOT_SEEKING: dict[str, tuple[str, ...]] = {
    "en": (
        "Here for the live deals.",
        "Night owl who loves a good unboxing.",
        "Shopping for my family.",
        "Gift hunter, always.",
        "Just browsing the streams.",
        "Bargains and good vibes.",
    ),
    "zh": (
        "来看直播捡优惠。",
        "夜猫子, 爱看开箱。",
        "给家人买东西。",
        "常年找礼物。",
        "随便逛逛直播。",
        "好价和好心情。",
    ),
}


def shopping_for(rng: np.random.Generator, seeks: np.ndarray, language: Language) -> list[str]:
    """Each viewer's sign-up answer to "what do you shop for?": their sought attribute in their
    own words, or a line that names none (``seeks`` -1)."""
    seeking, other = SEEKING[language], NOT_SEEKING[language]
    pick = rng.integers(0, 1 << 30, size=seeks.size)
    return [
        seeking[a][p % len(seeking[a])] if a >= 0 else other[p % len(other)]
        for a, p in zip(seeks.tolist(), pick.tolist(), strict=True)
    ]


def room_title(rng: np.random.Generator, handle: str, category: str, language: Language) -> str:
    hook = str(rng.choice(vocabulary(language).hooks))
    if language == "zh":
        return f"{handle}的{category}直播: {hook}"
    return f"{handle}'s {category} live: {hook}"


def comment_texts(
    rng: np.random.Generator, satisfaction: np.ndarray, nouns: np.ndarray, language: Language
) -> tuple[np.ndarray, np.ndarray]:
    """One comment per row, and its planted kind (negative, positive, or a purchase-intent question).

    The wording follows satisfaction; the kinds are kept as ground truth for the comment probe.
    """
    vocab = vocabulary(language)
    draw = satisfaction + rng.normal(0.0, 0.5, size=satisfaction.shape)
    out = np.empty(satisfaction.shape[0], dtype=object)
    kinds = np.empty(satisfaction.shape[0], dtype=object)
    pos = rng.integers(0, len(vocab.positive), size=out.shape[0])
    neg = rng.integers(0, len(vocab.negative), size=out.shape[0])
    ask = rng.integers(0, len(vocab.intent), size=out.shape[0])
    for i in range(out.shape[0]):
        if draw[i] > 0.9 and rng.random() < 0.35:
            template, kinds[i] = vocab.intent[ask[i]], "intent"
        elif draw[i] > 0.0:
            template, kinds[i] = vocab.positive[pos[i]], "positive"
        else:
            template, kinds[i] = vocab.negative[neg[i]], "negative"
        out[i] = template.format(noun=nouns[i])
    return out, kinds


def check_vocabulary() -> None:
    """Every contract category has nouns in every language (used by a unit test)."""
    for nouns in (NOUNS_EN, NOUNS_ZH):
        missing = set(CATEGORIES) - set(nouns)
        if missing:
            raise ValueError(f"categories without nouns: {sorted(missing)}")
