using System.Diagnostics;
using System.Collections.Concurrent;

namespace FleetAspire.Testing;

/// <summary>
/// Starts the servers tests need so that they die with the test process, however it ends.
/// </summary>
/// <remarks>
/// Children are started through <c>setpriv --pdeathsig</c>: the kernel signals them when their parent goes away,
/// even on SIGKILL. That signal is tied to the thread that forked, not the process, so every start happens on one
/// dedicated thread that lives as long as the process (a thread-pool thread may be retired and take the children
/// with it).
/// </remarks>
public static class ChildProcesses
{
    private static readonly BlockingCollection<(ProcessStartInfo Start, TaskCompletionSource<Process> Done)> Queue = new();
    private static readonly ConcurrentBag<Process> Started = [];
    private static readonly ConcurrentBag<string> Directories = [];

    static ChildProcesses()
    {
        var launcher = new Thread(() =>
        {
            foreach (var (start, done) in Queue.GetConsumingEnumerable())
            {
                try
                {
                    var process = Process.Start(start)!;
                    Started.Add(process);
                    done.SetResult(process);
                }
                catch (Exception ex)
                {
                    done.SetException(ex);
                }
            }
        })
        { IsBackground = true, Name = "child-process-launcher" };
        launcher.Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => StopAll();
    }

    /// <param name="deathSignal">What the child gets when this process dies (INT is PostgreSQL's fast shutdown).</param>
    public static Task<Process> StartAsync(string command, IEnumerable<string> args, IDictionary<string, string>? environment,
        string logFile, string deathSignal = "TERM", string? runAsUser = null)
    {
        var start = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add($"--pdeathsig={deathSignal}");
        if (runAsUser is not null)
        {
            start.ArgumentList.Add($"--reuid={runAsUser}");
            start.ArgumentList.Add($"--regid={runAsUser}");
            start.ArgumentList.Add("--init-groups");
        }

        start.ArgumentList.Add("--");
        start.ArgumentList.Add(command);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var done = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Queue.Add((start, done));
        return done.Task.ContinueWith(t =>
        {
            var process = t.Result;
            var log = new StreamWriter(logFile, append: true) { AutoFlush = true };
            process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
            process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.WriteLine(e.Data); } } };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return process;
        }, TaskScheduler.Default);
    }

    /// <summary>Runs a command to completion; throws with its output when it fails.</summary>
    public static async Task<string> RunAsync(string command, IEnumerable<string> args, IDictionary<string, string>? environment = null, string? runAsUser = null)
    {
        var start = new ProcessStartInfo(runAsUser is null ? command : "setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (runAsUser is not null)
        {
            foreach (var a in new[] { $"--reuid={runAsUser}", $"--regid={runAsUser}", "--init-groups", "--", command })
            {
                start.ArgumentList.Add(a);
            }
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{command} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}{await stdout}");
        }

        return await stdout;
    }

    public static void Signal(Process process, string signal)
    {
        try
        {
            using var kill = Process.Start("kill", $"-{signal} {process.Id}");
            kill.WaitForExit();
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>
    /// Removes what earlier runs left under <c>{temp}/{prefix}{pid}-…</c> when process <c>pid</c> is gone — servers still
    /// running on such a directory first (a broker that daemonized escapes the tree kill at exit), then the directory:
    /// a test host killed before its exit handlers ran cannot clean up after itself, and benchmark clusters are large.
    /// </summary>
    public static void SweepStale(string prefix)
    {
        var marker = Path.Combine(Path.GetTempPath(), prefix);
        if (Directory.Exists("/proc"))
        {
            foreach (var proc in Directory.GetDirectories("/proc"))
            {
                try
                {
                    if (int.TryParse(Path.GetFileName(proc), out var pid) && OwnerIfStale(File.ReadAllText(Path.Combine(proc, "cmdline")), marker) is not null)
                    {
                        using var process = Process.GetProcessById(pid);
                        process.Kill(entireProcessTree: true);
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException
                                               or System.ComponentModel.Win32Exception)
                {
                    // Gone meanwhile, or not ours to stop.
                }
            }
        }

        foreach (var directory in Directory.GetDirectories(Path.GetTempPath(), prefix + "*"))
        {
            try
            {
                if (OwnerIfStale(directory, marker) is not null)
                {
                    Directory.Delete(directory, recursive: true);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // In use or already gone: the next sweep tries again.
            }
        }
    }

    /// <summary>The dead owner pid of the first <c>{marker}{pid}-</c> in <paramref name="text"/>, if any.</summary>
    private static int? OwnerIfStale(string text, string marker)
    {
        var at = text.IndexOf(marker, StringComparison.Ordinal);
        if (at < 0)
        {
            return null;
        }

        var rest = text[(at + marker.Length)..];
        var dash = rest.IndexOf('-', StringComparison.Ordinal);
        return dash > 0 && int.TryParse(rest[..dash], out var pid) && pid != Environment.ProcessId && !IsAlive(pid) ? pid : null;
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Every process below <paramref name="root"/> (children, their children, …), read from /proc.</summary>
    public static IReadOnlyList<int> Descendants(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            try
            {
                // "pid (comm) state ppid …": comm may hold spaces, so read past its closing parenthesis.
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                parents[pid] = int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // Exited meanwhile.
            }
        }

        var found = new List<int>();
        var frontier = new Queue<int>([root]);
        while (frontier.TryDequeue(out var parent))
        {
            foreach (var child in parents.Where(p => p.Value == parent).Select(p => p.Key))
            {
                found.Add(child);
                frontier.Enqueue(child);
            }
        }

        return found;
    }

    /// <summary>Deleted at process exit, after every child has stopped writing to it.</summary>
    public static void DeleteOnExit(string directory) => Directories.Add(directory);

    private static void StopAll()
    {
        foreach (var process in Started)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(TimeSpan.FromSeconds(5));
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }

        foreach (var directory in Directories)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: /tmp is cleaned eventually.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
