"""builder/cache/places.py: positions in outputs follow their cells."""

from builder.cache.places import Places, relocate_text

OLD = Places("01-a.md", {0: (5, 3), 1: (12, 2)})
NEW = Places("02-b.md", {0: (9, 3), 1: (20, 2)})


def test_each_line_moves_with_its_own_cell():
    text = 'Traceback:\n  File "01-a.md", line 13, in <module>\n  File "01-a.md", line 6, in f\n'
    assert relocate_text(text, OLD, NEW) == (
        'Traceback:\n  File "02-b.md", line 21, in <module>\n  File "02-b.md", line 10, in f\n'
    )


def test_warnings_are_moved_and_other_files_are_not():
    text = '01-a.md:7: UserWarning: careful\n  File "helper.py", line 6, in g\nsee 01-a.md, line 6'
    assert relocate_text(text, OLD, NEW) == (
        '02-b.md:11: UserWarning: careful\n  File "helper.py", line 6, in g\nsee 01-a.md, line 6'
    )


def test_a_line_in_no_known_cell_keeps_its_number():
    assert relocate_text('File "01-a.md", line 99', OLD, NEW) == 'File "02-b.md", line 99'


def test_places_survive_json():
    assert Places.from_json(OLD.to_json()) == OLD
