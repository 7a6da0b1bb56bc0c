"""Never finishes importing (a network call without a timeout, say)."""
import time

time.sleep(3600)
