"""Review wiring (issue #10): who reviews what, the reviewer's and the agency's turns, the
notices, link checks and progress. The decisions are pure, in flows/review*.py."""
