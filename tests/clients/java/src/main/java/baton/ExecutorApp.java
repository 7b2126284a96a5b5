package baton;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.dbos.transact.DBOS;
import dev.dbos.transact.StartWorkflowOptions;
import dev.dbos.transact.config.DBOSConfig;
import dev.dbos.transact.execution.DBOSExecutor;
import dev.dbos.transact.workflow.ListWorkflowsInput;
import dev.dbos.transact.workflow.Queue;
import dev.dbos.transact.workflow.Step;
import dev.dbos.transact.workflow.Workflow;
import dev.dbos.transact.workflow.WorkflowStatus;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.reflect.Field;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.channels.FileChannel;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A real DBOS Java application that Baton's conformance tests run in subprocesses.
 *
 * <p>It implements the environment and HTTP control contract documented at the top of
 * tests/dbos_app/executor_app.py: a READY line on stdout, GET /executor, POST /start,
 * GET /status, GET /forks, POST /cancel; every other control endpoint answers 501. Workflows: multi_step,
 * quick, failing, parent (runs quick as a child workflow); the queue "serial" runs one workflow
 * at a time across the app.
 */
public final class ExecutorApp {
  /** The workflows, registered through a DBOS proxy. */
  public interface Workflows {
    String multiStep(int n, double stepSeconds) throws Exception;

    int quick(int x);

    int failing(String message);

    int parent(int x) throws Exception;
  }

  /** What the steps share: the marker directory and the executor id. */
  static final class Markers {
    final Path dir;
    volatile String executorId = "";

    Markers(Path dir) {
      this.dir = dir;
    }

    synchronized void append(String workflowId, int stepNo) throws IOException {
      String line = workflowId + " " + stepNo + " " + executorId + "\n";
      try (FileChannel channel =
          FileChannel.open(
              dir.resolve(workflowId + ".steps"),
              StandardOpenOption.CREATE,
              StandardOpenOption.APPEND,
              StandardOpenOption.WRITE)) {
        channel.write(java.nio.ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8)));
        channel.force(true);
      }
    }
  }

  /** The workflow implementations. */
  public static final class WorkflowsImpl implements Workflows {
    private final DBOS dbos;
    private final Markers markers;
    Workflows self;

    WorkflowsImpl(DBOS dbos, Markers markers) {
      this.dbos = dbos;
      this.markers = markers;
    }

    @Workflow(name = "multi_step")
    @Override
    public String multiStep(int n, double stepSeconds) throws Exception {
      String workflowId = DBOS.workflowId();
      StringBuilder ranBy = new StringBuilder();
      for (int stepNo = 1; stepNo <= n; stepNo++) {
        final int number = stepNo;
        String executor =
            dbos.runStep(
                () -> {
                  markers.append(workflowId, number);
                  Thread.sleep((long) (stepSeconds * 1000));
                  return markers.executorId;
                },
                "marked_step");
        ranBy.append(stepNo == 1 ? "" : " ").append(executor);
      }
      return workflowId + " ran " + n + " steps: " + ranBy;
    }

    @Workflow(name = "quick")
    @Override
    public int quick(int x) {
      return x * 2;
    }

    @Workflow(name = "failing")
    @Override
    public int failing(String message) {
      dbos.runStep(() -> message.length(), "prepare");
      throw new IllegalStateException(message);
    }

    @Workflow(name = "parent")
    @Override
    public int parent(int x) throws Exception {
      return dbos.startWorkflow(() -> self.quick(x)).getResult();
    }
  }

  private final DBOS dbos;
  private final Workflows workflows;
  private final Queue serial;
  private final String appName;
  private final String executorId;
  private final String appVersion;

  private ExecutorApp(DBOS dbos, Workflows workflows, Queue serial, String appName) throws Exception {
    this.dbos = dbos;
    this.workflows = workflows;
    this.serial = serial;
    this.appName = appName;
    DBOSExecutor executor = executorOf(dbos);
    this.executorId = executor.executorId();
    this.appVersion = executor.appVersion();
  }

  /** DBOS 1.1.0-m6 has no public accessor for the executor id; read it from the running DBOS. */
  @SuppressWarnings("unchecked")
  private static DBOSExecutor executorOf(DBOS dbos) throws Exception {
    Field field = DBOS.class.getDeclaredField("dbosExecutor");
    field.setAccessible(true);
    return ((AtomicReference<DBOSExecutor>) field.get(dbos)).get();
  }

  private static String required(String name) {
    String value = System.getenv(name);
    if (value == null || value.isEmpty()) {
      throw new IllegalArgumentException("environment variable " + name + " is required");
    }
    return value;
  }

  private static Optional<String> optional(String name) {
    String value = System.getenv(name);
    return value == null || value.isEmpty() ? Optional.empty() : Optional.of(value);
  }

  private void start(Map<String, String> params) {
    String workflowId = params.remove("id");
    String name = params.remove("workflow");
    String queue = params.remove("queue");
    StartWorkflowOptions options;
    if (queue == null) {
      options = new StartWorkflowOptions(workflowId);
    } else if (queue.equals("serial")) {
      options = new StartWorkflowOptions(serial).withWorkflowId(workflowId);
    } else {
      throw new IllegalArgumentException("unknown queue " + queue);
    }
    switch (name == null ? "" : name) {
      case "multi_step" -> {
        int n = Integer.parseInt(require(params, "n"));
        double seconds = Double.parseDouble(require(params, "step_seconds"));
        dbos.startWorkflow(() -> workflows.multiStep(n, seconds), options);
      }
      case "quick" -> {
        int x = Integer.parseInt(require(params, "x"));
        dbos.startWorkflow(() -> workflows.quick(x), options);
      }
      case "parent" -> {
        int x = Integer.parseInt(require(params, "x"));
        dbos.startWorkflow(() -> workflows.parent(x), options);
      }
      case "failing" -> {
        String message = require(params, "message");
        dbos.startWorkflow(() -> workflows.failing(message), options);
      }
      default -> throw new IllegalArgumentException("unknown workflow " + name);
    }
  }

  private static String require(Map<String, String> params, String key) {
    String value = params.get(key);
    if (value == null) {
      throw new IllegalArgumentException("missing parameter " + key);
    }
    return value;
  }

  private static Map<String, String> query(HttpExchange exchange) {
    Map<String, String> params = new HashMap<>();
    String raw = exchange.getRequestURI().getRawQuery();
    if (raw == null) {
      return params;
    }
    for (String pair : raw.split("&")) {
      int eq = pair.indexOf('=');
      String key = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
      String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
      params.put(key, value);
    }
    return params;
  }

  private static String json(Object value) {
    if (value == null) {
      return "null";
    }
    if (value instanceof Map<?, ?> map) {
      StringBuilder out = new StringBuilder("{");
      for (Map.Entry<?, ?> entry : map.entrySet()) {
        out.append(out.length() == 1 ? "" : ",").append(json(entry.getKey().toString()));
        out.append(":").append(json(entry.getValue()));
      }
      return out.append("}").toString();
    }
    if (value instanceof java.util.List<?> list) {
      StringBuilder out = new StringBuilder("[");
      for (Object item : list) {
        out.append(out.length() == 1 ? "" : ",").append(json(item));
      }
      return out.append("]").toString();
    }
    StringBuilder out = new StringBuilder("\"");
    for (char c : value.toString().toCharArray()) {
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append("\"").toString();
  }

  private static void reply(HttpExchange exchange, int code, Map<String, Object> body)
      throws IOException {
    byte[] data = json(body).getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(code, data.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(data);
    }
  }

  private void handle(HttpExchange exchange) throws IOException {
    String route = exchange.getRequestMethod() + " " + exchange.getRequestURI().getPath();
    Map<String, String> params = query(exchange);
    Map<String, Object> body = new LinkedHashMap<>();
    try {
      switch (route) {
        case "GET /executor" -> {
          body.put("executor_id", executorId);
          body.put("app_version", appVersion);
          body.put("app_name", appName);
          reply(exchange, 200, body);
        }
        case "POST /start" -> {
          String workflowId = params.get("id");
          try {
            start(params);
          } catch (IllegalArgumentException exc) {
            body.put("error", "bad start request: " + exc.getMessage());
            reply(exchange, 400, body);
            return;
          }
          body.put("workflow_id", workflowId);
          reply(exchange, 200, body);
        }
        case "GET /status" -> {
          Optional<WorkflowStatus> found = dbos.getWorkflowStatus(params.getOrDefault("id", ""));
          if (found.isEmpty()) {
            body.put("error", "unknown workflow");
            reply(exchange, 404, body);
            return;
          }
          WorkflowStatus status = found.get();
          body.put("workflow_id", status.workflowId());
          body.put("status", status.status().toString());
          body.put("executor_id", status.executorId());
          body.put("app_version", status.appVersion());
          body.put("output", status.output() == null ? null : status.output().toString());
          body.put(
              "error",
              status.error() == null
                  ? null
                  : status.error().className() + ": " + status.error().message());
          reply(exchange, 200, body);
        }
        case "GET /forks" -> {
          java.util.List<String> ids = new java.util.ArrayList<>();
          for (WorkflowStatus fork :
              dbos.listWorkflows(
                  new ListWorkflowsInput()
                      .withForkedFrom(params.getOrDefault("id", ""))
                      .withSortDesc(false)
                      .withLoadInput(false))) {
            ids.add(fork.workflowId());
          }
          body.put("workflow_ids", ids);
          reply(exchange, 200, body);
        }
        case "POST /cancel" -> {
          dbos.cancelWorkflow(params.getOrDefault("id", ""));
          body.put("workflow_id", params.getOrDefault("id", ""));
          reply(exchange, 200, body);
        }
        default -> {
          body.put("error", "not implemented by the Java app: " + route);
          reply(exchange, 501, body);
        }
      }
    } catch (RuntimeException exc) {
      body.clear();
      body.put("error", exc.toString());
      reply(exchange, 500, body);
    }
  }

  public static void main(String[] args) throws Exception {
    String appName = required("BATON_TEST_APP_NAME");
    Path markerDir = Path.of(required("BATON_TEST_MARKER_DIR"));
    Files.createDirectories(markerDir);
    java.net.URI dbUri = java.net.URI.create(required("BATON_TEST_SYSTEM_DB_URL"));
    String userInfo = dbUri.getUserInfo() == null ? "postgres" : dbUri.getUserInfo();
    int colon = userInfo.indexOf(':');
    DBOSConfig config =
        DBOSConfig.defaults(appName)
            .withDatabaseUrl(toJdbc(dbUri.toString()))
            .withDbUser(colon < 0 ? userInfo : userInfo.substring(0, colon))
            .withDbPassword(colon < 0 ? "" : userInfo.substring(colon + 1));
    Optional<String> version = optional("BATON_TEST_APP_VERSION");
    if (version.isPresent()) {
      config = config.withAppVersion(version.get());
    }
    Optional<String> key = optional("BATON_TEST_CONDUCTOR_KEY");
    if (key.isPresent()) {
      config = config.withConductorKey(key.get());
    }
    Optional<String> url = optional("BATON_TEST_CONDUCTOR_URL");
    if (url.isPresent()) {
      config = config.withConductorDomain(url.get());
    }
    int controlPort = Integer.parseInt(optional("BATON_TEST_CONTROL_PORT").orElse("0"));

    DBOS dbos = new DBOS(config);
    Markers markers = new Markers(markerDir);
    WorkflowsImpl impl = new WorkflowsImpl(dbos, markers);
    Workflows proxy = dbos.registerProxy(Workflows.class, impl);
    impl.self = proxy;
    Queue serial = new Queue("serial").withConcurrency(1);
    dbos.registerQueue(serial);
    dbos.launch();

    ExecutorApp app = new ExecutorApp(dbos, proxy, serial, appName);
    markers.executorId = app.executorId;
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", controlPort), 0);
    server.createContext("/", app::handle);
    server.setExecutor(Executors.newCachedThreadPool());
    server.start();
    System.out.println("READY " + app.executorId + " " + server.getAddress().getPort());
    System.out.flush();

    // SIGTERM is a graceful stop that exits 0, as the other clients' apps do (the JVM's default
    // would run shutdown hooks and exit 143).
    CountDownLatch stop = new CountDownLatch(1);
    sun.misc.Signal.handle(new sun.misc.Signal("TERM"), signal -> stop.countDown());
    stop.await();
    // Stop promptly: workflows in flight are abandoned, as after a crash.
    Thread watchdog =
        new Thread(
            () -> {
              try {
                Thread.sleep(5000);
              } catch (InterruptedException ignored) {
                return;
              }
              Runtime.getRuntime().halt(3);
            });
    watchdog.setDaemon(true);
    watchdog.start();
    server.stop(0);
    dbos.shutdown();
    System.exit(0);
  }

  /** postgresql://user[:password]@host:port/db -> the JDBC URL DBOS Java takes. */
  static String toJdbc(String url) {
    if (url.startsWith("jdbc:")) {
      return url;
    }
    java.net.URI uri = java.net.URI.create(url);
    StringBuilder jdbc =
        new StringBuilder("jdbc:postgresql://").append(uri.getHost());
    if (uri.getPort() > 0) {
      jdbc.append(":").append(uri.getPort());
    }
    jdbc.append(uri.getRawPath());
    String userInfo = uri.getUserInfo();
    if (userInfo != null) {
      int colon = userInfo.indexOf(':');
      jdbc.append("?user=").append(colon < 0 ? userInfo : userInfo.substring(0, colon));
      if (colon >= 0) {
        jdbc.append("&password=").append(userInfo.substring(colon + 1));
      }
    }
    return jdbc.toString();
  }
}
