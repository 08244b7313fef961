package dev.keyhook;

/** Runs the named cases of one test, each counted and reported on its own. */
interface Cases {
  interface Body {
    void run() throws Exception;
  }

  void run(String name, Body body);
}
