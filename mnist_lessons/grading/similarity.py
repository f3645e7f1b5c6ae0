"""Copying flagged for review: per exercise, the students whose code is near-identical to a classmate's or to the course's answer (instructors).

No sandbox stops a learner from pasting the course's answer (the package,
which they have, holds every solution: ``exercises.EXERCISES``' ``solution``) or
a classmate's function. copydetect fingerprints each answer as MOSS does
(winnowing over k-grams of the code with every name, string and comment
normalised away), so a copy with renamed variables and new layout still
matches. The code the release itself gives (the exercise cell's ``def`` line,
docstring and stub) is boilerplate: its fingerprints are left out, so two
untouched stubs never match. An answer too short to tell copying from the one
obvious way to write it (fewer than ``MIN_TOKENS`` normalised characters of
its own) is not compared. A flag is for the instructor to look at, never a
grade: the class report shows the two answers side by side.

``similarity_flags(course, assignment)`` reads the submitted notebooks as
data (never run) and returns, per exercise, the pairs of students and the
students matching the course's answer, most similar first.
"""

import io
import itertools
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint, compare_files
from copydetect.utils import filter_code, hashed_kgrams

from mnist_lessons.coursefiles import grading_release_dir
from mnist_lessons.grading import notebooks
from mnist_lessons.exercises import EXERCISES

THRESHOLD = 0.8  # the share of each answer's fingerprinted code found in the other's: a copy, lightly edited
NOISE = 25  # copydetect's noise threshold: no match shorter than 25 normalised characters counts
GUARANTEE = 30  # copydetect's guarantee threshold: every match of 30 characters or more is found
MIN_TOKENS = 50  # normalised characters of its own below which an answer is one obvious line (preprocess_images: 38)
MAX_CODE_BYTES = 64 * 1024  # an exercise's code above this is not compared: the course's answers are under 2 KB


def fingerprint(code, boilerplate=()):
    """copydetect's fingerprint of a piece of Python, without the ``boilerplate`` hashes."""
    return CodeFingerprint("answer.py", NOISE, GUARANTEE - NOISE + 1, boilerplate=list(boilerplate),
                           language="python", fp=io.StringIO(code))


def boilerplate_hashes(code):
    """Every k-gram hash of ``code``, normalised: copydetect's own boilerplate is the starter's winnowed hashes
    alone, which leaves in an answer the k-grams of the starter that winnowing picked there and not here."""
    return np.unique(hashed_kgrams(filter_code(code, "starter.py", "python")[0], NOISE))


def similarity(first, second):
    """(the share of the less-copied side, the copied slices in each) of two fingerprints: 0.0 when nothing matches."""
    _, shares, slices = compare_files(first, second)
    return float(min(shares)), slices


def exercise_code(notebook, name):
    """The code of an exercise in a notebook (a dict): every cell with its grade id, joined (a learner may split it)."""
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    return "\n".join(notebooks.source(cell) for cell in (cells if isinstance(cells, list) else [])
                     if isinstance(cell, dict) and notebooks.grade_id(cell) == name
                     and isinstance(notebooks.source(cell), str))


def starter_code(name, lesson, release=None):
    """The code the release gives for an exercise: its cell with nbgrader's stub in place of the solution."""
    notebook = notebooks.read_notebook(Path(release or grading_release_dir()) / f"{lesson}.ipynb")
    return notebooks.without_solution(exercise_code(notebook, name))


def flag_exercise(codes, starter, solution, threshold=THRESHOLD):
    """Flags for one exercise: {"pairs": [...], "solution": [...], "compared": n}, most similar first.

    ``codes``: {student: their code}. ``groups``: the students the pairs link, smallest first. A pair is {"students": (a, b), "similarity", "code": (a's, b's),
    "marks": (a's copied slices, b's)}; a match with the course's answer is {"student", "similarity", "code",
    "marks", "solution", "solution_marks"}. Only answers with ``MIN_TOKENS`` of their own are compared.
    """
    boilerplate = boilerplate_hashes(starter)
    # The very same text handed in by several students is fingerprinted and compared once: its students are linked
    # by a chain of pairs (groups() joins them), not by every pair of them, which for a class of 1,000 writing the
    # one common way would be half a million.
    alike = {}
    for student, code in sorted(codes.items()):
        alike.setdefault(code, []).append(student)
    prints, pairs, matches = {}, [], []
    for code, students in alike.items():
        if len(code) > MAX_CODE_BYTES:
            continue  # fingerprinting it in the driver would cost what a learner chose
        print_ = fingerprint(code, boilerplate)
        if print_.token_coverage < MIN_TOKENS:
            continue
        prints[students[0]] = print_
        whole = [(0, len(code))]
        pairs += [{"students": (a, b), "similarity": 1.0, "code": (code, code), "marks": (whole, whole)}
                  for a, b in zip(students, students[1:])]
    for (a, first), (b, second) in itertools.combinations(prints.items(), 2):
        shared = len(first.hashes & second.hashes)  # a cheap bound: no shared fingerprint, no match
        if not shared or shared < threshold * min(len(first.hashes), len(second.hashes)) / 2:
            continue
        share, (marks_a, marks_b) = similarity(first, second)
        if share >= threshold:
            pairs.append({"students": (a, b), "similarity": share, "code": (codes[a], codes[b]),
                          "marks": (_slices(marks_a), _slices(marks_b))})
    answer = fingerprint(solution, boilerplate)
    for student, print_ in prints.items():
        share, (marks, solution_marks) = similarity(print_, answer)
        if share >= threshold:
            matches += [{"student": alike_student, "similarity": share, "code": codes[student],
                         "marks": _slices(marks), "solution": solution, "solution_marks": _slices(solution_marks)}
                        for alike_student in alike[codes[student]]]
    pairs.sort(key=lambda pair: (-pair["similarity"], pair["students"]))
    matches.sort(key=lambda match: (-match["similarity"], match["student"]))
    compared = sum(len(alike[codes[student]]) for student in prints)
    return {"pairs": pairs, "groups": groups(pairs), "solution": matches, "compared": compared}


def groups(pairs):
    """The students linked by flagged pairs, as sorted lists, smallest group first: two students alike stand out,
    where a hundred alike wrote the one common way."""
    parent = {}

    def root(student):
        while parent.setdefault(student, student) != student:
            student = parent[student]
        return student

    for a, b in (pair["students"] for pair in pairs):
        parent[root(a)] = root(b)
    members = {}
    for student in parent:
        members.setdefault(root(student), []).append(student)
    return sorted((sorted(group) for group in members.values()), key=lambda group: (len(group), group))


def _slices(marks):
    """copydetect's 2 x N array of copied slices as [(start, end)] in the unfiltered code."""
    return [(int(start), int(end)) for start, end in zip(*marks)] if len(marks) == 2 else []


def read_codes(course, assignment):
    """{exercise: {student: code}} from the submitted notebooks, read as data; an unreadable notebook gives nothing."""
    codes = {}
    for folder in sorted(Path(course).glob(f"submitted/*/{assignment}")):
        for lesson in sorted({exercise.lesson for exercise in EXERCISES}):
            try:
                notebook = notebooks.read_notebook(folder / f"{lesson}.ipynb")
            except (OSError, ValueError):
                continue
            for exercise in EXERCISES:
                if exercise.lesson == lesson:
                    code = exercise_code(notebook, exercise.name)
                    if code.strip():
                        codes.setdefault(exercise.name, {})[folder.parent.name] = code
    return codes


def similarity_flags(course, assignment, threshold=THRESHOLD, release=None):
    """[{"exercise", "lesson", "pairs", "solution", "compared"}] for each exercise with a flag, in the course's order."""
    codes = read_codes(course, assignment)
    flags = []
    for exercise in EXERCISES:
        if len(codes.get(exercise.name, {})) == 0:
            continue
        flagged = flag_exercise(codes[exercise.name], starter_code(exercise.name, exercise.lesson, release),
                                exercise.solution, threshold)
        if flagged["pairs"] or flagged["solution"]:
            flags.append({"exercise": exercise.name, "lesson": exercise.lesson, **flagged})
    return flags
