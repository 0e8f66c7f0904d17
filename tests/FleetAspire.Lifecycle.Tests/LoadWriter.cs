using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using FleetAspire.Agents.Apis;
using FleetAspire.Machines.Apis;
using FleetAspire.Snapshots.Apis;
using FleetAspire.Testing;

namespace FleetAspire.Lifecycle.Tests;

/// <summary>
/// One client of the fleet, alternating replicas: claims and releases pool machines on its agents, registers, assigns,
/// heartbeats and deletes its own custom machines, snapshots what it holds. It keeps a ledger of every write it got a
/// success for — the truth the end of a test checks the fleet against (<see cref="CheckLedgerAsync"/>). A write whose
/// outcome it could not know (a 5xx, a connection cut by a killed service, a timeout: committed or not) leaves what it
/// touched unknown until re-read; a re-read is an observation, never counted as an acknowledged write.
/// </summary>
/// <param name="seededAgents">Agents that existed before the client started (a legacy fleet's); their state is read first.</param>
internal sealed class LoadWriter(int index, int agentsPerWriter, HttpClient[] agents, HttpClient[] machines, HttpClient? snapshots,
    ConcurrentDictionary<int, int> statuses, IEnumerable<string>? seededAgents = null)
{
    private readonly Random _random = new(index);
    private readonly List<string> _freeCustom = [];
    private readonly HashSet<string> _unknown = [.. seededAgents ?? []];
    private readonly Dictionary<string, string> _keys = [];
    private readonly Dictionary<string, long> _lastHeartbeat = [];
    private int _calls;
    private int _registrations;
    private int _succeeded;

    /// <summary>What each agent holds, as far as this client knows (the last acknowledged write, or the last read).</summary>
    public Dictionary<string, string?> AgentMachines { get; } =
        Enumerable.Range(0, agentsPerWriter).Select(i => $"agt_{index}_{i}").Concat(seededAgents ?? [])
            .ToDictionary(id => id, _ => (string?)null);

    /// <summary>Agents whose ledger entry comes from a read, not from a write this client was acknowledged.</summary>
    public HashSet<string> Observed { get; } = [.. seededAgents ?? []];

    /// <summary>Custom machines registered and not deleted (as far as this client was told).</summary>
    public List<string> CustomMachines { get; } = [];
    public List<string> DeletedCustomMachines { get; } = [];
    public List<string> Snapshots { get; } = [];
    public int Succeeded => Volatile.Read(ref _succeeded);

    /// <summary>Writes whose outcome was unknown (5xx, cut connection, timeout) and so were read again.</summary>
    public int Unknown { get; private set; }

    /// <summary>The SQL that creates this many writers' agents (idle, no machine), owned by <paramref name="userOf"/> (default "w{index}").</summary>
    public static string SeedAgents(int writers, int agentsPerWriter, Func<int, string>? userOf = null) => $"""
        INSERT INTO agents (id, name, user_id, status, created_at, updated_at)
        SELECT 'agt_' || w || '_' || i, 'load', (ARRAY[{string.Join(", ", Enumerable.Range(0, writers).Select(w => $"'{(userOf ?? (x => $"w{x}"))(w)}'"))}])[w + 1],
               'idle', now(), now()
        FROM generate_series(0, {writers - 1}) w, generate_series(0, {agentsPerWriter - 1}) i;
        """;

    /// <summary>
    /// Every live instance runs the current epoch. Read from the registry directly: the control API's own latency under
    /// load is not the services'.
    /// </summary>
    public static async Task AllAcknowledgedAsync(string database, int expectedInstances) =>
        await Eventually.TrueAsync(async () => await Sql.ScalarAsync(database, """
                SELECT count(*) FILTER (WHERE epoch = (SELECT epoch FROM migration_phase)) FROM migration_instances
                WHERE expires_at > now()
                """) >= expectedInstances,
            TimeSpan.FromSeconds(30), "not every instance acknowledged the current epoch");

    public async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var calls = _calls++;
            await StepAsync(agents[calls % agents.Length], machines[calls % machines.Length]);
        }
    }

    private async Task StepAsync(HttpClient agentsClient, HttpClient machinesClient)
    {
        foreach (var agent in _unknown.ToList())
        {
            using var read = await SendAsync(() => agentsClient.GetAsync($"/api/agents/{agent}"), agent: null, count: false);
            if (read is not { IsSuccessStatusCode: true })
            {
                return;
            }

            AgentMachines[agent] = (await read.Content.ReadFromJsonAsync<AgentResponse>())!.MachineId;
            Observed.Add(agent);
            _freeCustom.RemoveAll(m => m == AgentMachines[agent]);
            _unknown.Remove(agent);
        }

        var idle = AgentMachines.Where(a => a.Value is null).Select(a => a.Key).ToList();
        var holdingPool = AgentMachines.Where(a => a.Value is { } m && !m.StartsWith("cm", StringComparison.Ordinal)).Select(a => a.Key).ToList();
        var holdingCustom = AgentMachines.Where(a => a.Value is { } m && _keys.ContainsKey(m)).Select(a => a.Value!).ToList();
        var roll = _random.Next(100);
        if (roll < 30 && idle.Count > 0)
        {
            var agent = idle[_random.Next(idle.Count)];
            using var response = await SendAsync(() => agentsClient.PostAsync($"/api/agents/{agent}/claim", null), agent);
            if (Acknowledged(response, agent))
            {
                Ledger(agent, (await response!.Content.ReadFromJsonAsync<AgentResponse>())!.MachineId);
            }
        }
        else if (roll < 50 && holdingPool.Count > 0)
        {
            var agent = holdingPool[_random.Next(holdingPool.Count)];
            using var response = await SendAsync(() => agentsClient.PostAsync($"/api/agents/{agent}/release", null), agent);
            if (Acknowledged(response, agent))
            {
                Ledger(agent, null);
            }
        }
        else if (roll < 58 && snapshots is not null && holdingPool.Count > 0)
        {
            using var response = await SendAsync(() => snapshots.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(holdingPool[_random.Next(holdingPool.Count)])),
                agent: null);
            if (Acknowledged(response, null))
            {
                Snapshots.Add((await response!.Content.ReadFromJsonAsync<SnapshotResponse>())!.Id);
            }
        }
        else if (roll < 66 && holdingCustom.Count > 0)
        {
            var machine = holdingCustom[_random.Next(holdingCustom.Count)];
            // Heartbeats carry a strictly increasing timestamp per machine (Unix seconds): one per machine per second.
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            if (_lastHeartbeat.GetValueOrDefault(machine) < now)
            {
                _lastHeartbeat[machine] = now;
                using var response = await SendAsync(() => HeartbeatAsync(machinesClient, machine, _keys[machine], now), agent: null);
                Acknowledged(response, null);
            }
        }
        else if (roll < 72 && _freeCustom.Count > 0)
        {
            var machine = _freeCustom[_random.Next(_freeCustom.Count)];
            using var response = await SendAsync(() => machinesClient.DeleteAsync($"/api/machines/custom/{machine}"), agent: null);
            if (Acknowledged(response, null) || response?.StatusCode == HttpStatusCode.NotFound)
            {
                _freeCustom.Remove(machine);
                CustomMachines.Remove(machine);
                DeletedCustomMachines.Add(machine);
            }
            else if (response is null || (int)response.StatusCode >= 500)
            {
                // Deleted or not: it is neither in the ledger as live nor as gone any more.
                _freeCustom.Remove(machine);
                CustomMachines.Remove(machine);
            }
        }
        else if (roll < 88 || _freeCustom.Count == 0 || idle.Count == 0)
        {
            // A new address every time (an attempt whose outcome was unknown may have taken the last one).
            var n = _registrations++;
            var key = $"load-key-{index}-{n}-0123456789";
            using var response = await SendAsync(() => machinesClient.PostAsJsonAsync("/api/machines/custom",
                new { ipv4 = $"172.{16 + index % 16}.{index % 250}.{n % 250}", port = 2000 + n, sharedKey = key }), agent: null);
            if (Acknowledged(response, null))
            {
                var id = (await response!.Content.ReadFromJsonAsync<CustomMachineResponse>())!.Id;
                CustomMachines.Add(id);
                _freeCustom.Add(id);
                _keys[id] = key;
            }
        }
        else
        {
            var machine = _freeCustom[_random.Next(_freeCustom.Count)];
            var agent = idle[_random.Next(idle.Count)];
            using var response = await SendAsync(() => machinesClient.PostAsJsonAsync($"/api/machines/custom/{machine}/assign", new { agentId = agent }), agent);
            if (Acknowledged(response, agent))
            {
                Ledger(agent, machine);
                _freeCustom.Remove(machine);
            }
        }
    }

    private void Ledger(string agent, string? machine)
    {
        AgentMachines[agent] = machine;
        Observed.Remove(agent);
    }

    /// <summary>
    /// Sends a request; null when no answer came (the service was down, the connection was cut, the request timed out).
    /// An agent the request wrote becomes unknown then: the write may or may not have committed.
    /// </summary>
    private async Task<HttpResponseMessage?> SendAsync(Func<Task<HttpResponseMessage>> send, string? agent, bool count = true)
    {
        try
        {
            return await send();
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            // Unreachable (refused, cut, timed out): counted apart from status codes.
            statuses.AddOrUpdate(0, 1, (_, n) => n + 1);
            if (count && agent is not null && _unknown.Add(agent))
            {
                Unknown++;
            }

            return null;
        }
    }

    private static async Task<HttpResponseMessage> HeartbeatAsync(HttpClient machines, string machineId, string key, long unixSeconds)
    {
        var body = Encoding.UTF8.GetBytes("{\"outcome\":\"healthy\",\"latencyMs\":7}");
        var timestamp = unixSeconds.ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/machines/heartbeats") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Add(HeartbeatsApi.MachineHeader, machineId);
        request.Headers.Add(HeartbeatsApi.TimestampHeader, timestamp);
        request.Headers.Add(HeartbeatsApi.SignatureHeader, HeartbeatsApi.Sign(key, machineId, timestamp, body));
        return await machines.SendAsync(request);
    }

    /// <returns>Whether the write succeeded. A 5xx leaves the agent it touched unknown until re-read.</returns>
    private bool Acknowledged(HttpResponseMessage? response, string? agent)
    {
        if (response is null)
        {
            return false;
        }

        var status = response.StatusCode;
        statuses.AddOrUpdate((int)status, 1, (_, n) => n + 1);
        if ((int)status >= 500 && agent is not null && _unknown.Add(agent))
        {
            Unknown++;
        }

        if ((int)status is >= 200 and < 300)
        {
            Interlocked.Increment(ref _succeeded);
            return true;
        }

        return false;
    }

    /// <summary>
    /// Reads back, through the API, everything this client's ledger holds. <c>Lost</c>: an acknowledged write whose
    /// result is not what the fleet shows. <c>Drift</c>: an agent this client only observed (never wrote) that holds
    /// something else now — the fleet changed it without this client (a dirty legacy row, another process).
    /// </summary>
    public async Task<(List<string> Lost, List<LedgerDrift> Drift)> CheckLedgerAsync(HttpClient agentsClient, HttpClient machinesClient, HttpClient snapshotsClient)
    {
        var (lost, drift) = (new List<string>(), new List<LedgerDrift>());
        foreach (var (agent, machine) in AgentMachines.Where(a => !_unknown.Contains(a.Key)))
        {
            using var read = await ReadAsync(agentsClient, $"/api/agents/{agent}");
            read.EnsureSuccessStatusCode();
            var now = (await read.Content.ReadFromJsonAsync<AgentResponse>())!.MachineId;
            if (now == machine)
            {
                continue;
            }

            if (Observed.Contains(agent))
            {
                drift.Add(new LedgerDrift(agent, machine, now));
            }
            else
            {
                lost.Add($"agent {agent}: acknowledged {machine ?? "none"}, now {now ?? "none"}");
            }
        }

        foreach (var custom in CustomMachines)
        {
            if ((await ReadAsync(machinesClient, $"/api/machines/custom/{custom}")).StatusCode != HttpStatusCode.OK)
            {
                lost.Add($"custom machine {custom}: registered, now gone");
            }
        }

        foreach (var deleted in DeletedCustomMachines)
        {
            if ((await ReadAsync(machinesClient, $"/api/machines/custom/{deleted}")).StatusCode != HttpStatusCode.NotFound)
            {
                lost.Add($"custom machine {deleted}: deleted, now back");
            }
        }

        foreach (var snapshot in Snapshots)
        {
            if ((await ReadAsync(snapshotsClient, $"/api/snapshots/{snapshot}")).StatusCode != HttpStatusCode.OK)
            {
                lost.Add($"snapshot {snapshot}: created, now gone");
            }
        }

        return (lost, drift);
    }

    /// <summary>A read as a well-behaved client makes it: told to slow down (429), it waits the Retry-After and asks again.</summary>
    private static async Task<HttpResponseMessage> ReadAsync(HttpClient client, string path)
    {
        for (var attempt = 0; ; attempt++)
        {
            var response = await client.GetAsync(path);
            if (response.StatusCode != HttpStatusCode.TooManyRequests || attempt == 20)
            {
                return response;
            }

            var wait = response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1);
            response.Dispose();
            await Task.Delay(wait); // the server's own answer says how long: not a guess at synchronisation
        }
    }
}

/// <summary>An agent a client only read that holds something else at the end: <paramref name="Read"/> then, <paramref name="Now"/> now.</summary>
internal sealed record LedgerDrift(string Agent, string? Read, string? Now);
