package dev.keyhook;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * A tiny test runner, so the tests run with the JDK alone (no JUnit to download): runs every
 * {@link Test} method of the classes named on the command line, each in a fresh instance, prints
 * one line per test or case and closes with {@code N passed, N failed}; exits 1 on a failure.
 */
public final class TestRunner {
  private int passed;
  private int failed;

  public static void main(String[] args) throws Exception {
    TestRunner runner = new TestRunner();
    for (String name : args) {
      runner.runClass(Class.forName(name));
    }
    System.out.println(runner.passed + " passed, " + runner.failed + " failed");
    System.exit(runner.failed == 0 ? 0 : 1);
  }

  private void runClass(Class<?> cls) throws Exception {
    List<Method> tests = new ArrayList<>();
    for (Method m : cls.getDeclaredMethods()) {
      if (m.isAnnotationPresent(Test.class)) {
        tests.add(m);
      }
    }
    tests.sort(Comparator.comparing(Method::getName));
    for (Method m : tests) {
      String name = cls.getSimpleName() + "." + m.getName();
      m.setAccessible(true);
      Object instance = cls.getDeclaredConstructor().newInstance();
      if (m.getParameterCount() == 1) {
        int before = failed;
        try {
          m.invoke(instance, (Cases) (caseName, body) -> run(name + " / " + caseName.replace("\n", "\\n"), body));
        } catch (InvocationTargetException e) {
          fail(name, e.getCause());
        }
        if (failed == before) {
          System.out.println("ok   " + name + " (all cases)");
        }
      } else {
        run(name, () -> {
          try {
            m.invoke(instance);
          } catch (InvocationTargetException e) {
            if (e.getCause() instanceof Exception) {
              throw (Exception) e.getCause();
            }
            throw new RuntimeException(e.getCause());
          }
        });
      }
    }
  }

  private void run(String name, Cases.Body body) {
    long start = System.nanoTime();
    try {
      body.run();
      passed++;
      System.out.println("ok   " + name + " (" + (System.nanoTime() - start) / 1_000_000 + " ms)");
    } catch (Throwable t) {
      fail(name, t);
    }
  }

  private void fail(String name, Throwable t) {
    failed++;
    System.out.println("FAIL " + name + ": " + t);
    t.printStackTrace(System.err);
  }
}
