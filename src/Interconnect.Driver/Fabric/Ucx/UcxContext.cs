using Interconnect.Driver.Interop;
using Native = Interconnect.Driver.Interop.Ucx;

namespace Interconnect.Driver.Fabric.Ucx;

/// <summary>
/// A UCP context: the process's handle on UCX, with the features the across-machines fabric needs (remote memory
/// access, 32- and 64-bit atomics, wakeup on an event descriptor). Configuration comes from the <c>UCX_*</c>
/// environment variables as they are when <see cref="Create"/> runs (<c>UCX_TLS=tcp</c> forces the tcp transport),
/// with larger tcp segments than UCX's own unless the environment sets them (<see cref="TcpSegmentDefaults"/>).
/// </summary>
/// <remarks>
/// The context owns what is made from it: <see cref="Dispose"/> unmaps the memory still registered, disposes the
/// workers still open (which close their endpoints first) and then disposes its handle, so an owner that disposes only
/// the context leaves nothing behind, and what was made from it fails with <see cref="ObjectDisposedException"/>
/// afterwards. The native lifetime is the handles' (<see cref="SafeUcxContextHandle"/>): each worker and registration
/// holds its context's handle, so <c>ucp_cleanup</c> runs after their destroys, also when a call still running on
/// another thread delays one of them, or when the finalizer releases handles that nobody disposed. The context is
/// created with <c>mt_workers_shared</c>, so registering memory on one thread while a worker runs on another is safe.
/// </remarks>
internal sealed unsafe class UcxContext : IDisposable
{
    private readonly Lock _lock = new();
    private readonly List<UcxWorker> _workers = [];
    private readonly List<UcxMemory> _memories = [];
    private readonly SafeUcxContextHandle _handle;

    private UcxContext(SafeUcxContextHandle handle) => _handle = handle;

    /// <summary>
    /// The tcp segment sizes this driver uses in place of UCX's (send 8K, receive 64K in 1.13), as environment
    /// variables, unless the environment sets either of them (then it sets both as it likes): a send segment larger
    /// than a 64 KiB write and its headers, so such a write travels as one message rather than nine (one completion,
    /// one wake-up of the target's agent, which applies it in one go); the receive segment must be at least the send
    /// segment (reference/ucx-facts.md: put-then-flush of 1 MiB 1.0-1.7 GB/s with 8K, 3.5-4.2 GB/s with 64K).
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> TcpSegmentDefaults { get; } =
    [
        new("UCX_TCP_TX_SEG_SIZE", "128K"),
        new("UCX_TCP_RX_SEG_SIZE", "128K"),
    ];

    /// <summary>
    /// The tcp segment settings a context made now uses, as environment variables: the environment's when it sets
    /// either, else <see cref="TcpSegmentDefaults"/>; empty when <c>UCX_TLS</c> leaves tcp out and none is set.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> TcpSegments
    {
        get
        {
            if (TcpSegmentsSet())
            {
                return [.. TcpSegmentDefaults.Select(d => new KeyValuePair<string, string>(d.Key, Environment.GetEnvironmentVariable(d.Key) ?? "(UCX's default)"))];
            }

            return MayUseTcp(Environment.GetEnvironmentVariable("UCX_TLS")) ? TcpSegmentDefaults : [];
        }
    }

    private static bool TcpSegmentsSet() =>
        TcpSegmentDefaults.Any(d => Environment.GetEnvironmentVariable(d.Key) is { Length: > 0 });

    /// <summary>
    /// UCX's memory hooks, off unless the environment sets them: with memory events on, a context patches the C
    /// library's mmap, munmap, madvise and their kin in place ("bistro") and hooks malloc, while the runtime's threads
    /// (the garbage collector's first) call them; a thread caught in a function being patched runs half-written code.
    /// Processes of ours crashed so (SIGSEGV in the collector's memcpy, "address not mapped", now and then at a
    /// deallocation across machines). The driver needs no memory events: it registers memory once and keeps no
    /// registration cache, and tcp has none to invalidate.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> MemoryHooksOff { get; } =
    [
        new("UCX_MEM_EVENTS", "n"),
        new("UCX_MEM_MALLOC_HOOKS", "n"),
        new("UCX_MEM_MALLOC_RELOC", "n"),
        new("UCX_MEM_MMAP_HOOK_MODE", "none"),
    ];

    /// <summary>
    /// Where UCX writes its log unless the environment says: standard error. UCX's default is standard output, which is
    /// a program's own (a test peer's answers, a command's output): a connection that broke printed "UCX ERROR ...
    /// send(119) failed" into it.
    /// </summary>
    public static KeyValuePair<string, string> LogToStandardError { get; } = new("UCX_LOG_FILE", "stderr");

    /// <summary>
    /// Once per process, before UCX loads: its log to standard error, its memory hooks off (overwrite 0: a setting of the environment stays), then
    /// the runtime's signal handlers back (see <see cref="Native.DebugDisableSignals"/>: a SIGSEGV that UCX caught froze
    /// a test peer with no trace). Not a static constructor: reading this class's settings (the harness reports
    /// <see cref="TcpSegments"/>) must not load UCX.
    /// </summary>
    private static readonly Lazy<bool> s_processPrepared = new(() =>
    {
        foreach (var (name, value) in MemoryHooksOff.Append(LogToStandardError))
        {
            _ = Interop.Libc.SetEnv(name, value, overwrite: 0);
        }

        Native.DebugDisableSignals();
        return true;
    });

    /// <summary>
    /// Reads the UCX configuration from the environment and creates a context (UCP API 1.13) for
    /// <paramref name="operations"/>. A context for messages only installs none of UCX's handlers of emulated one-sided
    /// operations (puts, gets, atomics): over tcp those apply at any address a peer names, with no key check, so a
    /// context that serves peers it does not trust (imcd's, and every process's across machines) must not have them.
    /// </summary>
    public static UcxContext Create(UcxOperations operations = UcxOperations.Messages)
    {
        _ = s_processPrepared.Value;
        nint config;
        UcxException.Check(Native.ConfigRead(null, null, &config), DriverStatus.InitError,
            "reading the UCX configuration (UCX_* environment variables) failed");
        try
        {
            // UCX applies a modified transport setting over the environment's, so ours go in only when the user set
            // neither; and only when tcp may be opened, since UCX warns of a setting no transport took. 1.13 matches
            // the name inside each transport's table, without "UCX_TCP_" (uct_config_modify).
            if (!TcpSegmentsSet() && MayUseTcp(Environment.GetEnvironmentVariable("UCX_TLS")))
            {
                foreach (var (variable, value) in TcpSegmentDefaults)
                {
                    var name = variable["UCX_TCP_".Length..];
                    UcxException.Check(Native.ConfigModify(config, name, value), DriverStatus.InitError,
                        $"setting the tcp transport's {name} to {value} failed (set {variable} to choose it yourself)");
                }
            }

            var parameters = new Native.Params
            {
                FieldMask = Native.ParamFieldFeatures | Native.ParamFieldMtWorkersShared,
                Features = Native.FeatureAm | Native.FeatureWakeup | (operations == UcxOperations.MessagesAndOneSided
                    ? Native.FeatureRma | Native.FeatureAmo32 | Native.FeatureAmo64
                    : 0),
                MtWorkersShared = 1,
            };
            var status = Native.InitVersion(Native.ApiMajor, Native.ApiMinor, &parameters, config, out var handle);
            if (status != Native.Ok)
            {
                handle.Dispose(); // holds nothing: UCX returned no context
                UcxException.Throw(status, DriverStatus.InitError,
                    "creating the UCX context failed (is libucx0 1.13 or later installed, and does UCX_TLS name a transport that exists here?)");
            }

            return new UcxContext(handle);
        }
        finally
        {
            Native.ConfigRelease(config);
        }
    }

    /// <summary>Whether a <c>UCX_TLS</c> value lets UCX open the tcp transport (unset, "all", or a list naming tcp).</summary>
    internal static bool MayUseTcp(string? transports)
    {
        if (string.IsNullOrWhiteSpace(transports))
        {
            return true;
        }

        var list = transports.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (transports.TrimStart().StartsWith('^'))
        {
            return !list.Any(t => t.TrimStart('^') == "tcp"); // an exclusion list
        }

        return list.Any(t => t is "tcp" or "all" || t.StartsWith("tcp:", StringComparison.Ordinal));
    }

    /// <summary>
    /// A worker for one thread at a time (UCS_THREAD_MODE_SERIALIZED), serialised by a lock inside
    /// <see cref="UcxWorker"/>.
    /// </summary>
    public UcxWorker CreateWorker()
    {
        lock (_lock)
        {
            var worker = UcxWorker.Create(this, Handle);
            _workers.Add(worker);
            return worker;
        }
    }

    /// <summary>
    /// Registers existing memory (such as an mmapped receive file) for remote access; <see cref="UcxMemory.PackKey"/>
    /// gives the key a peer needs. The memory must stay mapped until the registration is disposed.
    /// </summary>
    public UcxMemory Map(nint address, long length)
    {
        ArgumentOutOfRangeException.ThrowIfZero(address);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        lock (_lock)
        {
            var parameters = new Native.MemMapParams
            {
                FieldMask = Native.MemMapParamFieldAddress | Native.MemMapParamFieldLength,
                Address = address,
                Length = (nuint)length,
            };
            var memory = SafeUcxMemoryHandle.Map(Handle, &parameters, out var status);
            if (memory is null)
            {
                UcxException.Throw(status, DriverStatus.NoResources, $"registering {length} bytes at 0x{address:x} with UCX failed");
            }

            var registration = new UcxMemory(this, memory, address, length);
            _memories.Add(registration);
            return registration;
        }
    }

    /// <summary>The context's handle; throws <see cref="ObjectDisposedException"/> (naming this class) once disposed.</summary>
    internal SafeUcxContextHandle Handle
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return _handle;
        }
    }

    internal void Forget(UcxWorker worker)
    {
        lock (_lock)
        {
            _workers.Remove(worker);
        }
    }

    /// <summary>Called by a registration's dispose: the context no longer unmaps it.</summary>
    internal void Forget(UcxMemory memory)
    {
        lock (_lock)
        {
            _memories.Remove(memory);
        }
    }

    public void Dispose()
    {
        UcxWorker[] workers;
        UcxMemory[] memories;
        lock (_lock)
        {
            if (_handle.IsClosed)
            {
                return;
            }

            workers = [.. _workers];
            memories = [.. _memories];
        }

        foreach (var memory in memories)
        {
            memory.Dispose();
        }

        foreach (var worker in workers)
        {
            worker.Dispose();
        }

        // Cleaned up now, or once the last worker or registration that still holds the handle is released (one made
        // meanwhile by another thread, or one whose destroy waits for a call still running).
        _handle.Dispose();
    }
}

/// <summary>What a <see cref="UcxContext"/> may do.</summary>
internal enum UcxOperations
{
    /// <summary>Active messages only: what the emulated NIC needs, and all a peer can make this context do.</summary>
    Messages,

    /// <summary>Active messages, and one-sided puts, gets and atomics (memory mapped with <see cref="UcxContext.Map"/>).</summary>
    MessagesAndOneSided,
}
