package dev.keyhook;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * A held floating seat ({@link Client#lease}). A daemon thread heartbeats every {@link
 * #heartbeatSeconds()} (a third of the lease, so two heartbeats may fail before it lapses), each
 * answer verified like {@link Client#validate}'s, and notices the loss of the seat: {@link
 * #held()} turns false, {@link #loss()} says why and every {@link LossListener} is told once.
 * Codes: {@code LEASE_EXPIRED} (the lease lapsed, or the merchant released it), {@code REVOKED},
 * {@code SUSPENDED}, {@code EXPIRED} (the license), {@value #UNREACHABLE} (the lease lapsed while
 * Keyhook could not be reached, or answered nothing trusted). Stop the licensed features then,
 * or lease again.
 *
 * <p>{@link #close()} (try-with-resources) or {@link #release()} stops the heartbeats and gives
 * the seat back. Safe for concurrent use.
 */
public final class Lease implements AutoCloseable {
  /** The loss's code when the lease lapsed while Keyhook could not be reached. */
  public static final String UNREACHABLE = "UNREACHABLE";

  /** While Keyhook cannot be reached, heartbeats are retried this often (until the lease lapses). */
  private static final long RETRY_SECONDS = 5;

  /** How long {@link #release()} waits for a heartbeat under way. */
  private static final Duration STOP_WAIT = Duration.ofMinutes(1);

  /** Why the seat was lost: the signed answer's {@code code} and {@code detail}, or {@link Lease#UNREACHABLE}. */
  public record Loss(String code, String detail) {}

  /** Told once when the seat is lost (not when it is released). */
  @FunctionalInterface
  public interface LossListener {
    /**
     * Called on the lease's heartbeat thread (hand the work to your UI thread, and do not block
     * it), or at once on the caller's thread when added after the loss.
     */
    void seatLost(Lease lease, Loss loss);
  }

  private final Client client;
  private final String key;
  private final String deviceId;
  private final Answer answer;
  private final String id;
  private final ScheduledThreadPoolExecutor heartbeats;
  private final CountDownLatch lost = new CountDownLatch(1);
  private final Object lock = new Object();
  private volatile Thread thread;

  // Guarded by lock.
  private final List<LossListener> listeners = new ArrayList<>();
  private String expiresAt;
  private long heartbeatSeconds;
  private Loss loss;
  private boolean stopped;
  private boolean released;

  private Lease(Client client, String key, String deviceId, Answer answer) {
    this.client = client;
    this.key = key;
    this.deviceId = deviceId;
    this.answer = answer;
    this.id = answer.lease().id();
    this.expiresAt = answer.lease().expiresAt();
    this.heartbeatSeconds = answer.lease().heartbeatSeconds();
    String name = "keyhook-lease-" + id.substring(Math.max(0, id.length() - 8));
    this.heartbeats =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread t = new Thread(r, name);
              t.setDaemon(true);
              thread = t;
              return t;
            });
    // Stopped means stopped: no heartbeat waiting for its time runs after release.
    heartbeats.setExecuteExistingDelayedTasksAfterShutdownPolicy(false);
    heartbeats.setRemoveOnCancelPolicy(true);
  }

  /** A lease for the verified answer {@code answer} (valid, with its lease), heartbeating. */
  static Lease start(Client client, String key, String deviceId, Answer answer) {
    Lease l = new Lease(client, key, deviceId, answer);
    l.schedule(l.heartbeatSeconds);
    return l;
  }

  /** The lease's id ({@code lse_…}). */
  public String id() {
    return id;
  }

  /** The license key the seat is taken on. */
  public String key() {
    return key;
  }

  /** The device holding the seat. */
  public String deviceId() {
    return deviceId;
  }

  /** The verified answer that granted the seat ({@code answer().lease()}: the lease as first answered). */
  public Answer answer() {
    return answer;
  }

  /** When the seat is free unless a heartbeat extends it, as the last heartbeat answered. */
  public String expiresAt() {
    synchronized (lock) {
      return expiresAt;
    }
  }

  /** How often the seat is heartbeated, as the last heartbeat answered. */
  public long heartbeatSeconds() {
    synchronized (lock) {
      return heartbeatSeconds;
    }
  }

  /** Whether the seat is still held, as the last heartbeat learnt (false once lost or released). */
  public boolean held() {
    synchronized (lock) {
      return loss == null && !released;
    }
  }

  /** Why the seat was lost; null while it is held (and after a release). */
  public Loss loss() {
    synchronized (lock) {
      return loss;
    }
  }

  /**
   * Waits until the seat is lost, at most {@code timeout}: the loss, or null when the seat was
   * not lost within it.
   */
  public Loss awaitLoss(Duration timeout) throws InterruptedException {
    lost.await(timeout.toNanos(), TimeUnit.NANOSECONDS);
    return loss();
  }

  /**
   * Tells {@code listener} when the seat is lost (once); at once if it is lost already. Not told
   * of a release.
   */
  public void addLossListener(LossListener listener) {
    Objects.requireNonNull(listener, "listener");
    Loss now;
    synchronized (lock) {
      now = loss;
      if (now == null) {
        listeners.add(listener);
        return;
      }
    }
    tell(listener, now);
  }

  /** Stops telling {@code listener}. */
  public void removeLossListener(LossListener listener) {
    synchronized (lock) {
      listeners.remove(listener);
    }
  }

  /**
   * The seat as a verified license file for offline use, valid for {@code duration} (at most the
   * license's {@code maxBorrowSeconds}); see {@link Client#borrow}.
   */
  public Client.CheckedOut borrow(Duration duration) {
    return client.borrow(this, duration);
  }

  /**
   * Stops the heartbeats (waiting for one under way) and gives the seat back now ({@code
   * DELETE}): true when Keyhook freed it, false when the lease had lapsed already or was released
   * before (nothing is sent again).
   *
   * @throws NetworkException when Keyhook cannot be reached (the seat then frees itself when its
   *     lease lapses)
   */
  public boolean release() {
    boolean first;
    synchronized (lock) {
      stopped = true;
      first = !released;
      released = true;
    }
    heartbeats.shutdown();
    if (Thread.currentThread() != thread) {
      try {
        heartbeats.awaitTermination(STOP_WAIT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    return first && client.releaseLease(id);
  }

  /**
   * {@link #release()}, ignoring a Keyhook that cannot be reached or refuses (the seat then frees
   * itself when its lease lapses).
   */
  @Override
  public void close() {
    try {
      release();
    } catch (KeyhookException e) {
      // The lease lapses on its own.
    }
  }

  private void schedule(long seconds) {
    synchronized (lock) {
      if (stopped) {
        return;
      }
      try {
        heartbeats.schedule(this::beat, Math.max(seconds, 1), TimeUnit.SECONDS);
      } catch (RejectedExecutionException e) {
        // Shut down: released.
      }
    }
  }

  private void beat() {
    synchronized (lock) {
      if (stopped) {
        return;
      }
    }
    Answer a;
    try {
      a = client.heartbeat(key, id, deviceId);
    } catch (RuntimeException e) {
      // Unreachable, or nothing trusted answered: the seat is held until its lease lapses.
      String why = e instanceof KeyhookException ? e.getMessage() : e.toString();
      Told told;
      long retry;
      synchronized (lock) {
        if (stopped) {
          return;
        }
        told = liveAt(expiresAt, client.now()) ? null : lose(UNREACHABLE, why);
        retry = Math.min(RETRY_SECONDS, Math.max(heartbeatSeconds, 1));
      }
      if (told != null) {
        tellAll(told);
      } else {
        schedule(retry);
      }
      return;
    }
    Told told = null;
    long next;
    synchronized (lock) {
      if (stopped) {
        return;
      }
      if (!a.valid()) {
        told = lose(a.code(), a.detail());
      } else if (a.lease() != null) {
        expiresAt = a.lease().expiresAt();
        heartbeatSeconds = a.lease().heartbeatSeconds();
      }
      next = heartbeatSeconds;
    }
    // The listeners run outside the lock: they may read the lease, or release it.
    if (told != null) {
      tellAll(told);
    } else {
      schedule(next);
    }
  }

  /** Whether a lease expiring at {@code expiresAt} is still live at {@code now} (unreadable: no). */
  private static boolean liveAt(String expiresAt, Instant now) {
    try {
      return Times.parse("expiresAt", expiresAt).isAfter(now);
    } catch (VerificationException e) {
      return false;
    }
  }

  /** Whom to tell of a loss. */
  private record Told(Loss loss, List<LossListener> listeners) {}

  /** Records the loss and stops the heartbeats (with the lock held); the listeners to tell. */
  private Told lose(String code, String detail) {
    loss = new Loss(code, detail);
    stopped = true;
    List<LossListener> told = List.copyOf(listeners);
    listeners.clear();
    heartbeats.shutdown();
    lost.countDown();
    return new Told(loss, told);
  }

  private void tellAll(Told told) {
    for (LossListener l : told.listeners()) {
      tell(l, told.loss());
    }
  }

  /** A listener's exception goes to the thread's handler, not to the other listeners. */
  private void tell(LossListener listener, Loss l) {
    try {
      listener.seatLost(this, l);
    } catch (RuntimeException e) {
      Thread t = Thread.currentThread();
      t.getUncaughtExceptionHandler().uncaughtException(t, e);
    }
  }

  @Override
  public String toString() {
    synchronized (lock) {
      String state = loss != null ? "lost " + loss.code() : released ? "released" : "held until " + expiresAt;
      return "Lease[" + id + ", " + state + "]";
    }
  }
}
