# Makes the project root importable for pytest without installing the package.
