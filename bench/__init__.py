"""`make bench`: a large data set, the portal as in production, and its measured speed."""
