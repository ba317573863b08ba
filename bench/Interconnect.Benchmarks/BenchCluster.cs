using Interconnect.Imc;

namespace Interconnect.Benchmarks;

/// <summary>
/// A fresh cluster in its own temporary IMC_ROOT (under /dev/shm) with a writer on host "alpha" and up to four
/// receiving hosts "r1".."r4", all in this process (several contexts per process, one per host, as the tests do).
/// Disposing it closes every context and removes the folder.
/// </summary>
public sealed class BenchCluster : IDisposable
{
    public const int Key = 42;
    public const long RegionSize = 8192;
    private readonly List<IDisposable> _owned = [];

    public BenchCluster(int receivers)
    {
        Root = Path.Combine(Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), $"imc-bench-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Root);
        Writer = Own(ImcContext.Open(Options("alpha")));
        WriterRegion = Own(Writer.AllocateRegion(Key, RegionSize));
        var windows = new List<ImcReceiveWindow>();
        for (var i = 0; i < receivers; i++)
        {
            var context = Own(ImcContext.Open(Options($"r{i + 1}")));
            var region = Own(context.AllocateRegion(Key, RegionSize));
            windows.Add(Own(region.AttachReceive()));
        }

        Receivers = windows;
    }

    public string Root { get; }

    public ImcContext Writer { get; }

    /// <summary>The region as the writer allocated it.</summary>
    public ImcRegion WriterRegion { get; }

    /// <summary>One receive window per receiving host.</summary>
    public IReadOnlyList<ImcReceiveWindow> Receivers { get; }

    public ImcOptions Options(string host) => new() { Root = Root, Cluster = "bench", Host = host, AutoInitialize = true };

    public T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    public void Dispose()
    {
        for (var i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }

        _owned.Clear();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
