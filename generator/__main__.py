from generator.cli import main

# Guarded: the page workers (generator.parallel) start with "spawn", which imports this module again.
if __name__ == "__main__":
    raise SystemExit(main())
