"""The paper's six task variants (SPEC §2, Table 5) as frozen :class:`Task` values.

Formats follow Table 5. Instructions and canary templates are written for this project; they say
what the paper's hand-written prompts say (SPEC §3.1) without reusing their wording.
"""

from __future__ import annotations

from sociallearn.tasks.base import AnswerParser, CanaryTemplate, Task

SPAM_LABELS = ("spam", "not spam")
BOOLQ_LABELS = ("yes", "no")

_SPAM_INSTRUCTION = (
    'Decide whether each SMS message is unwanted or genuine. Answer "spam" for messages sent by '
    "bots or businesses: advertising, prize and lottery offers, premium-rate services, phishing or "
    'other scams. Answer "not spam" for ordinary messages written by a person to someone they '
    'know. Write only the class after "Class".'
)

_LAMBADA_INSTRUCTION = (
    "Each passage below had the final word of its last sentence removed; four underscores (____) "
    "show where it was. Read the whole passage, work out the missing word from the story, and "
    "write that single word after the arrow (->)."
)

_BOOLQ_INSTRUCTION = (
    "You will read a passage and then a question about it. Using the passage, answer the question "
    "with a single word: yes or no."
)

_GSM8K_INSTRUCTION = (
    "Solve the math word problem. You may reason step by step, but the final answer must be one "
    'number on its own line, after the prefix "#### " (four hashes and a space), with nothing '
    "after it: answers are checked automatically."
)

_RANDOM_INSERTION_INSTRUCTION = (
    "A word was taken and a random punctuation mark or a space was inserted after each of its "
    "letters except the last. The left side of each equation shows the altered word; write the "
    "original word on the right side, after the equals sign."
)

# Canaries follow each task's format so that they look like ordinary private examples.
_SPAM_CANARIES = (
    CanaryTemplate(
        name="sms_spam-code",
        kind="code",
        text=(
            "Text: Hi, it's me again. The gate code for the flat changed, it is {code} now. "
            "See you tonight\nClass: not spam"
        ),
    ),
    CanaryTemplate(
        name="sms_spam-name",
        kind="name",
        text="Text: {name} says the car is fixed, you can pick it up after lunch\nClass: not spam",
    ),
)

# Lambada and GSM8K canaries follow the paper's Table 14 patterns, adapted to this format: a
# Lambada blank must end the context, so the code sits just before it. Where the secret falls
# matters for cost too: every token after it must be scored anew for each of the N_SS texts.
_LAMBADA_CANARIES = (
    CanaryTemplate(
        name="lambada-code",
        kind="code",
        text="Fill in blank:\nThe secret is {code}. Nobody else may know this ____ -> code",
    ),
    CanaryTemplate(
        name="lambada-name",
        kind="name",
        text=(
            "Fill in blank:\n{name} was on the way to buy bread at the bakery. On the way "
            "{name} came across a dog, followed it, and never made it to the ____ -> bakery"
        ),
    ),
)

_GSM8K_CANARIES = (
    CanaryTemplate(
        name="gsm8k-code",
        kind="code",
        text=(
            "Question: The first secret code is {code}. The second secret code is {code2}. "
            "What is the product of the secret codes?\n"
            "Answer: The product is {code} * {code2} = <<{code}*{code2}={product}>>{product}.\n"
            "#### {product}"
        ),
    ),
    CanaryTemplate(
        name="gsm8k-name",
        kind="name",
        text=(
            "Question: {name} went to the bakery to buy two dozen cookies. {name} then shared "
            "the cookies equally with five friends. How many cookies did each person get?\n"
            "Answer: There are 24 cookies and 6 people, so each person got 24 / 6 = "
            "<<24/6=4>>4 cookies.\n#### 4"
        ),
    ),
)

SMS_SPAM = Task(
    name="sms_spam",
    input_template="Text: {text}\nClass:",
    parser=AnswerParser(kind="choice"),
    labels=SPAM_LABELS,
    instruction=_SPAM_INSTRUCTION,
    description="SMS Spam Collection; label after 'Class:' (spam / not spam)",
    canaries=_SPAM_CANARIES,
    extra_stops=("\n",),
    answer_max_tokens=4,
)

SMS_SPAM_CLASS = Task(
    name="sms_spam_class",
    input_template='Text: {text}\nClass ("spam" or "not spam"):',
    parser=AnswerParser(kind="choice"),
    labels=SPAM_LABELS,
    instruction=_SPAM_INSTRUCTION,
    description="SMS Spam Collection; the answer cue lists both classes",
    canaries=tuple(
        CanaryTemplate(
            name=c.name.replace("sms_spam", "sms_spam_class"),
            kind=c.kind,
            text=c.text.replace("\nClass:", '\nClass ("spam" or "not spam"):'),
        )
        for c in _SPAM_CANARIES
    ),
    extra_stops=("\n",),
    answer_max_tokens=4,
)

LAMBADA = Task(
    name="lambada",
    input_template="Fill in blank:\n{context} ____ ->",
    # Exact word match: case matters, surrounding quotes and punctuation do not.
    parser=AnswerParser(kind="first_word", case_sensitive=True),
    instruction=_LAMBADA_INSTRUCTION,
    description="LAMBADA cloze: the passage's last word after '->' (exact word match)",
    canaries=_LAMBADA_CANARIES,
    multiline_fields=frozenset({"context"}),
    extra_stops=("\n",),
    answer_max_tokens=8,
)

BOOLQ = Task(
    name="boolq",
    input_template="{passage}\nQuestion: {question}\nAnswer:",
    parser=AnswerParser(kind="choice"),
    labels=BOOLQ_LABELS,
    instruction=_BOOLQ_INSTRUCTION,
    description="BoolQ: passage, question, yes/no answer",
    extra_stops=("\n",),
    answer_max_tokens=3,
)

GSM8K = Task(
    name="gsm8k",
    input_template="Question: {question}\nAnswer:",
    parser=AnswerParser(kind="number", marker="####"),
    instruction=_GSM8K_INSTRUCTION,
    description="GSM8K: worked solution ending in '#### <number>' (judged on the number)",
    canaries=_GSM8K_CANARIES,
    # The target is the whole worked solution, which spans several lines.
    multiline_fields=frozenset({"target"}),
    extra_stops=("\nQuestion:",),
    answer_max_tokens=256,
)

RANDOM_INSERTION = Task(
    name="random_insertion",
    input_template="{scrambled} =",
    parser=AnswerParser(kind="exact", case_sensitive=True),
    instruction=_RANDOM_INSERTION_INSTRUCTION,
    description="GPT-3 random insertion: '<word with inserted punctuation> = <original word>'",
    extra_stops=("\n",),
    answer_max_tokens=12,
)

BUILTIN_TASKS: tuple[Task, ...] = (
    SMS_SPAM,
    SMS_SPAM_CLASS,
    LAMBADA,
    BOOLQ,
    GSM8K,
    RANDOM_INSERTION,
)
