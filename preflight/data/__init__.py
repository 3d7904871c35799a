"""Media shipped with preflight: astronaut.jpg, NASA's public-domain portrait of Eileen Collins
(as distributed with scikit-image), used by `preflight demo` to make clips of a real person."""
