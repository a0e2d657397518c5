# Warnings are errors, for every target of ours (third-party headers come in as SYSTEM).
add_compile_options(-Wall -Wextra -Wpedantic -Werror)
