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
/// One client of the fleet, alternating replicas: claims and releases pool machines on its own agents, registers,
/// assigns, heartbeats and deletes its own custom machines, snapshots what it holds. It keeps its own record of every
/// write it got a success for — the truth a test checks the database against. A write whose outcome it could not know
/// (a 5xx during an injected outage: committed or not) is re-read before the agent is used again.
/// </summary>
internal sealed class LoadWriter(int index, int agentsPerWriter, HttpClient[] agents, HttpClient[] machines, HttpClient? snapshots,
    ConcurrentDictionary<int, int> statuses)
{
    private readonly Random _random = new(index);
    private readonly List<string> _freeCustom = [];
    private readonly HashSet<string> _unknown = [];
    private readonly Dictionary<string, string> _keys = [];
    private int _calls;
    private int _succeeded;

    public Dictionary<string, string?> AgentMachines { get; } =
        Enumerable.Range(0, agentsPerWriter).ToDictionary(i => $"agt_{index}_{i}", _ => (string?)null);

    /// <summary>Custom machines registered and not deleted (as far as this client was told).</summary>
    public List<string> CustomMachines { get; } = [];
    public List<string> DeletedCustomMachines { get; } = [];
    public List<string> Snapshots { get; } = [];
    public int Succeeded => Volatile.Read(ref _succeeded);

    /// <summary>The SQL that creates this many writers' agents (idle, no machine).</summary>
    public static string SeedAgents(int writers, int agentsPerWriter) => $"""
        INSERT INTO agents (id, name, user_id, status, created_at, updated_at)
        SELECT 'agt_' || w || '_' || i, 'load', 'w' || w, 'idle', now(), now()
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
            var agentsClient = agents[calls % agents.Length];
            var machinesClient = machines[calls % machines.Length];
            try
            {
                await StepAsync(agentsClient, machinesClient);
            }
            catch (HttpRequestException)
            {
                // The service itself was unreachable (not an answer): counted apart from status codes.
                statuses.AddOrUpdate(0, 1, (_, n) => n + 1);
            }
        }
    }

    private async Task StepAsync(HttpClient agentsClient, HttpClient machinesClient)
    {
        foreach (var agent in _unknown.ToList())
        {
            using var read = await agentsClient.GetAsync($"/api/agents/{agent}");
            if (read.IsSuccessStatusCode)
            {
                AgentMachines[agent] = (await read.Content.ReadFromJsonAsync<AgentResponse>())!.MachineId;
                _freeCustom.RemoveAll(m => m == AgentMachines[agent]);
                _unknown.Remove(agent);
            }
            else
            {
                return;
            }
        }

        var idle = AgentMachines.Where(a => a.Value is null).Select(a => a.Key).ToList();
        var holdingPool = AgentMachines.Where(a => a.Value is { } m && !m.StartsWith("cm", StringComparison.Ordinal)).Select(a => a.Key).ToList();
        var holdingCustom = AgentMachines.Where(a => a.Value is { } m && m.StartsWith("cm", StringComparison.Ordinal)).Select(a => a.Value!).ToList();
        var roll = _random.Next(100);
        if (roll < 30 && idle.Count > 0)
        {
            var agent = idle[_random.Next(idle.Count)];
            using var response = await agentsClient.PostAsync($"/api/agents/{agent}/claim", null);
            if (Record(response.StatusCode, agent))
            {
                AgentMachines[agent] = (await response.Content.ReadFromJsonAsync<AgentResponse>())!.MachineId;
            }
        }
        else if (roll < 50 && holdingPool.Count > 0)
        {
            var agent = holdingPool[_random.Next(holdingPool.Count)];
            using var response = await agentsClient.PostAsync($"/api/agents/{agent}/release", null);
            if (Record(response.StatusCode, agent))
            {
                AgentMachines[agent] = null;
            }
        }
        else if (roll < 58 && snapshots is not null && holdingPool.Count > 0)
        {
            using var response = await snapshots.PostAsJsonAsync("/api/snapshots", new CreateSnapshotRequest(holdingPool[_random.Next(holdingPool.Count)]));
            if (Record(response.StatusCode, null))
            {
                Snapshots.Add((await response.Content.ReadFromJsonAsync<SnapshotResponse>())!.Id);
            }
        }
        else if (roll < 66 && holdingCustom.Count > 0)
        {
            var machine = holdingCustom[_random.Next(holdingCustom.Count)];
            using var response = await HeartbeatAsync(machinesClient, machine, _keys[machine]);
            Record(response.StatusCode, null);
        }
        else if (roll < 72 && _freeCustom.Count > 0)
        {
            var machine = _freeCustom[_random.Next(_freeCustom.Count)];
            using var response = await machinesClient.DeleteAsync($"/api/machines/custom/{machine}");
            if (Record(response.StatusCode, null) || response.StatusCode == HttpStatusCode.NotFound)
            {
                _freeCustom.Remove(machine);
                CustomMachines.Remove(machine);
                DeletedCustomMachines.Add(machine);
            }
        }
        else if (roll < 88 || _freeCustom.Count == 0 || idle.Count == 0)
        {
            var n = CustomMachines.Count + DeletedCustomMachines.Count;
            var key = $"load-key-{index}-{n}-0123456789";
            using var response = await machinesClient.PostAsJsonAsync("/api/machines/custom",
                new { ipv4 = $"172.{16 + index % 16}.{index % 250}.{n % 250}", port = 2000 + n, sharedKey = key });
            if (Record(response.StatusCode, null))
            {
                var id = (await response.Content.ReadFromJsonAsync<CustomMachineResponse>())!.Id;
                CustomMachines.Add(id);
                _freeCustom.Add(id);
                _keys[id] = key;
            }
        }
        else
        {
            var machine = _freeCustom[_random.Next(_freeCustom.Count)];
            var agent = idle[_random.Next(idle.Count)];
            using var response = await machinesClient.PostAsJsonAsync($"/api/machines/custom/{machine}/assign", new { agentId = agent });
            if (Record(response.StatusCode, agent))
            {
                AgentMachines[agent] = machine;
                _freeCustom.Remove(machine);
            }
        }
    }

    private static async Task<HttpResponseMessage> HeartbeatAsync(HttpClient machines, string machineId, string key)
    {
        var body = Encoding.UTF8.GetBytes("{\"outcome\":\"healthy\",\"latencyMs\":7}");
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/machines/heartbeats") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.Add(HeartbeatsApi.MachineHeader, machineId);
        request.Headers.Add(HeartbeatsApi.TimestampHeader, timestamp);
        request.Headers.Add(HeartbeatsApi.SignatureHeader, HeartbeatsApi.Sign(key, machineId, timestamp, body));
        return await machines.SendAsync(request);
    }

    /// <returns>Whether the write succeeded. A 5xx leaves the agent it touched unknown until re-read.</returns>
    private bool Record(HttpStatusCode status, string? agent)
    {
        statuses.AddOrUpdate((int)status, 1, (_, n) => n + 1);
        if ((int)status >= 500 && agent is not null)
        {
            _unknown.Add(agent);
        }

        if ((int)status is >= 200 and < 300)
        {
            Interlocked.Increment(ref _succeeded);
            return true;
        }

        return false;
    }
}
