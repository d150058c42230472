"""The classes a kept fracture finding is given (the method's five)."""

CLASSES = ("fresh", "old", "post-operative", "suspected", "other")
CLASS_TITLES = {"fresh": "fresh fracture", "old": "old (healed) fracture", "post-operative": "post-operative",
                "suspected": "suspected fracture", "other": "other abnormality"}
