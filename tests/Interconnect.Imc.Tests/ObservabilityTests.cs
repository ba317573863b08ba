using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Interconnect.Driver;
using Interconnect.Testing;
using Microsoft.Extensions.Logging;

namespace Interconnect.Imc.Tests;

/// <summary>The library's metrics (meter Interconnect.Imc) and log events with their fixed ids.</summary>
public sealed class ObservabilityTests
{
    private TemporaryCluster _cluster = null!;

    [SetUp]
    public void SetUp() => _cluster = TemporaryCluster.Create("alpha", "beta");

    [TearDown]
    public void TearDown() => _cluster.Dispose();

    private static Dictionary<string, long> ReadCounters()
    {
        var values = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Interconnect.Imc")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => values[instrument.Name] = value);
        listener.Start();
        listener.RecordObservableInstruments();
        return values;
    }

    [Test]
    public void ShouldMoveTheCountersAMeterListenerSees()
    {
        using var writer = _cluster.Open("alpha");
        using var reader = _cluster.Open("beta");
        using var region = writer.AllocateRegion(1, 8192);
        using var tx = region.AttachTransmit();
        using var rxRegion = reader.AllocateRegion(1, 8192);
        using var rx = rxRegion.AttachReceive();
        using var locks = writer.AllocateLockSet(2, 1);
        var before = ReadCounters();

        for (var i = 0; i < 100; i++)
        {
            tx.Write(0, (ulong)i);
        }

        tx.Write(8, new byte[1000]);
        locks.Acquire(0);
        locks.Release(0);
        writer.Kill("alpha", writer.ProcessId, 28); // SIGWINCH: ignored by default
        ImcControl.InjectErrors(0, 1, options: _cluster.ControlOptions);
        tx.Write(0, 1UL);
        var count = writer.ReadErrorCount(0);
        _cluster.InitHost("gamma");
        _ = writer.CheckErrorCount(ref count, 0);
        var after = ReadCounters();

        Assert.That(after["imc.writes"] - before["imc.writes"], Is.EqualTo(102));
        Assert.That(after["imc.bytes"] - before["imc.bytes"], Is.EqualTo(100 * 8 + 1000 + 8));
        Assert.That(after["imc.drops"] - before["imc.drops"], Is.EqualTo(1));
        Assert.That(after["imc.lock.acquisitions"] - before["imc.lock.acquisitions"], Is.EqualTo(1));
        Assert.That(after["imc.signals"] - before["imc.signals"], Is.EqualTo(1));
        Assert.That(after["imc.errors"] - before["imc.errors"], Is.EqualTo(1));
        Assert.That(after.Keys, Does.Contain("imc.lock.waits"));
    }

    [Test]
    public void ShouldLogLifecycleEventsWithTheirIds()
    {
        using var cluster = TemporaryCluster.CreateEmpty();
        var logger = new CollectingLoggerProvider();
        using var factory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(logger));
        var options = new ImcOptions { Root = cluster.Root, Cluster = "logged", Host = "alpha", AutoInitialize = true, LoggerFactory = factory };

        using (var context = ImcContext.Open(options))
        {
            using var region = context.AllocateRegion(5, 8192);
            using var rx = region.AttachReceive();
            using var locks = context.AllocateLockSet(6, 1);
            var paths = ClusterPaths.Resolve(cluster.Root, "logged");
            ClusterAdmin.InitializeHost(paths, "beta");
            ImcControl.FailRail(0, options);
            logger.WaitFor(500, TimeSpan.FromSeconds(30));
            logger.WaitFor(102, TimeSpan.FromSeconds(30), "beta");
        }

        var ids = logger.Events.Select(e => e.Id).ToList();
        Assert.That(ids, Does.Contain(100), "context opened");
        Assert.That(ids, Does.Contain(102), "host joined");
        Assert.That(ids, Does.Contain(200), "region allocated");
        Assert.That(ids, Does.Contain(202), "region attached");
        Assert.That(ids, Does.Contain(300), "lock set allocated");
        Assert.That(ids, Does.Contain(500), "rail failed");
        Assert.That(ids, Does.Contain(101), "context closed");
        Assert.That(logger.Events.Where(e => e.Id == 102).Select(e => e.Message),
            Has.Some.Contains("alpha").And.Some.Contains("beta"));
    }

    private sealed class CollectingLoggerProvider : ILoggerProvider, ILogger
    {
        public ConcurrentQueue<(int Id, string Message)> Events { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter) => Events.Enqueue((eventId.Id, formatter(state, exception)));

        public void WaitFor(int id, TimeSpan deadline, string? mentioning = null)
        {
            var until = DateTime.UtcNow + deadline;
            while (!Events.Any(e => e.Id == id && (mentioning is null || e.Message.Contains(mentioning, StringComparison.Ordinal))))
            {
                Assert.That(DateTime.UtcNow, Is.LessThan(until),
                    $"no event {id} logged; logged: {string.Join("; ", Events.Select(e => $"{e.Id} {e.Message}"))}");
                Thread.Sleep(10);
            }
        }

        public void Dispose()
        {
        }
    }
}
