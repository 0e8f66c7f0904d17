using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace FleetAspire.Testing;

/// <summary>
/// One throwaway RabbitMQ node per test process (or the broker in <c>FLEET_TEST_RABBITMQ</c>) with its own epmd on
/// a private port, and a virtual host per fixture so that fixtures hosting the same consumers never share queues
/// or exchanges.
/// </summary>
public sealed class TestRabbitMq
{
    public const string ExternalVariable = "FLEET_TEST_RABBITMQ";
    private const string Ctl = "/usr/lib/rabbitmq/bin/rabbitmqctl";
    private const string Server = "/usr/lib/rabbitmq/bin/rabbitmq-server";
    private static readonly Lazy<Task<TestRabbitMq>> Shared = new(StartAsync);
    private static int _vhostCounter;
    private readonly Dictionary<string, string>? _ctlEnvironment;

    private TestRabbitMq(string host, int port, Dictionary<string, string>? ctlEnvironment, Process? node)
    {
        Host = host;
        Port = port;
        _ctlEnvironment = ctlEnvironment;
        Node = node;
    }

    public string Host { get; }
    public int Port { get; private set; }
    public Process? Node { get; private set; }

    public static Task<TestRabbitMq> GetAsync() => Shared.Value;

    /// <summary>A fresh vhost; returns its AMQP URI. Against an external broker every fixture shares "/".</summary>
    public async Task<string> CreateVirtualHostAsync(string hint)
    {
        if (_ctlEnvironment is null)
        {
            return $"amqp://guest:guest@{Host}:{Port}/";
        }

        var vhost = $"v{Interlocked.Increment(ref _vhostCounter)}-{new string(hint.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(30).ToArray())}";
        await ChildProcesses.RunAsync(Ctl,
        [
            "eval",
            $"rabbit_vhost:add(<<\"{vhost}\">>, <<\"fleet-test\">>), " +
            $"rabbit_auth_backend_internal:set_permissions(<<\"guest\">>, <<\"{vhost}\">>, <<\".*\">>, <<\".*\">>, <<\".*\">>, <<\"fleet-test\">>).",
        ], _ctlEnvironment);
        return $"amqp://guest:guest@{Host}:{Port}/{vhost}";
    }

    /// <summary>Stops the broker (for outage tests). Returns once the port refuses connections.</summary>
    public async Task StopAsync()
    {
        if (Node is null)
        {
            throw new InvalidOperationException("An external broker cannot be stopped by the tests.");
        }

        await ChildProcesses.RunAsync(Ctl, ["stop_app"], _ctlEnvironment);
    }

    /// <summary>Starts the broker again after <see cref="StopAsync"/>; returns once AMQP answers.</summary>
    public async Task StartAgainAsync()
    {
        await ChildProcesses.RunAsync(Ctl, ["start_app"], _ctlEnvironment);
        await WaitForAmqpAsync(Host, Port);
    }

    private static async Task<TestRabbitMq> StartAsync()
    {
        var external = Environment.GetEnvironmentVariable(ExternalVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            var uri = new Uri(external);
            return new TestRabbitMq(uri.Host, uri.Port, null, null);
        }

        if (!File.Exists(Server))
        {
            throw new InvalidOperationException(
                $"RabbitMQ is not installed ({Server}). Run ./build.sh setup (apt-get install rabbitmq-server) or set {ExternalVariable}.");
        }

        return await StartAttempts.RunAsync("RabbitMQ", StartLocalAsync);
    }

    private static async Task<TestRabbitMq> StartLocalAsync()
    {
        ChildProcesses.SweepStale("fleet-test-rabbit-");
        var home = Path.Combine(Path.GetTempPath(), $"fleet-test-rabbit-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(home);
        await File.WriteAllTextAsync(Path.Combine(home, "enabled_plugins"), "[].\n");
        ChildProcesses.DeleteOnExit(home);

        var epmdPort = TestPostgres.FreePort().ToString(CultureInfo.InvariantCulture);
        var amqpPort = TestPostgres.FreePort();
        // Unique per attempt (StartAttempts): a node left booting by a failed attempt keeps its name.
        var nodeName = $"fleettest{Environment.ProcessId}n{home[^8..]}@localhost";
        var environment = new Dictionary<string, string>
        {
            ["HOME"] = home,
            ["ERL_EPMD_PORT"] = epmdPort,
            ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODENAME"] = nodeName,
            ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
            ["RABBITMQ_NODE_PORT"] = amqpPort.ToString(CultureInfo.InvariantCulture),
            ["RABBITMQ_DIST_PORT"] = TestPostgres.FreePort().ToString(CultureInfo.InvariantCulture),
            ["RABBITMQ_MNESIA_BASE"] = Path.Combine(home, "mnesia"),
            ["RABBITMQ_LOG_BASE"] = Path.Combine(home, "log"),
            ["RABBITMQ_LOGS"] = "-",
            ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(home, "enabled_plugins"),
        };

        // Our own epmd on a private port: Erlang would otherwise start a daemon that outlives the tests.
        await ChildProcesses.StartAsync("epmd", ["-port", epmdPort, "-address", "127.0.0.1"], environment, Path.Combine(home, "epmd.log"));
        await Eventually.SucceedsAsync(async () =>
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync("127.0.0.1", int.Parse(epmdPort, CultureInfo.InvariantCulture));
        }, TimeSpan.FromSeconds(30), "epmd did not listen");

        var node = await ChildProcesses.StartAsync(Server, [], environment, Path.Combine(home, "rabbitmq.log"));
        await WaitForAmqpAsync("127.0.0.1", amqpPort);
        var ctlEnvironment = new Dictionary<string, string>
        {
            ["HOME"] = home,
            ["ERL_EPMD_PORT"] = epmdPort,
            ["RABBITMQ_NODENAME"] = nodeName,
        };
        return new TestRabbitMq("127.0.0.1", amqpPort, ctlEnvironment, node);
    }

    /// <summary>Waits for a full AMQP handshake: the port opens before the broker has booted.</summary>
    private static Task WaitForAmqpAsync(string host, int port) =>
        Eventually.SucceedsAsync(async () =>
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(host, port);
            var stream = tcp.GetStream();
            await stream.WriteAsync("AMQP\0\0\u0009\u0001"u8.ToArray());
            var buffer = new byte[1];
            stream.ReadTimeout = 2000;
            var read = await stream.ReadAsync(buffer);
            if (read != 1 || buffer[0] != 1)
            {
                throw new InvalidOperationException("no AMQP Connection.Start yet");
            }
        }, TimeSpan.FromSeconds(120), "RabbitMQ did not accept AMQP");
}
