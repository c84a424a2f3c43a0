"""The question side of answering, in one place.

A question is read once (`reading.read_question` → `Asking`): its content terms, the kind of
answer it wants (a person, an organisation, a place, a date, money, a quantity in a unit, a
percentage, a rank, a reason, yes or no) and its focus (the attribute asked about: 负责人, 票价,
覆盖率, 成立). That one value is what the rest looks at:

- `kinds`     whether a text gives the kind of answer wanted (names and places by jieba's tags);
- `sentence`  the answering sentence of a passage;
- `verdict`   whether the first passage answers at all, with a calibrated confidence.
"""
