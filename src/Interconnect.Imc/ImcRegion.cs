using Interconnect.Driver;
using Interconnect.Imc.Internal;
using Microsoft.Extensions.Logging;

namespace Interconnect.Imc;

/// <summary>
/// A region of the cluster's address space that this process has allocated (<c>imc_asalloc</c>). Attach it for
/// transmit to write to other hosts, and for receive to read what they write.
/// </summary>
public sealed class ImcRegion : IDisposable
{
    private readonly DriverSession _session;
    private readonly RegionHandle _handle;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private ImcTransmitWindow? _transmit;
    private ImcReceiveWindow? _receive;
    private bool _deallocated;
    private bool _disposed;

    internal ImcRegion(DriverSession session, RegionHandle handle, ILogger logger)
    {
        _session = session;
        _handle = handle;
        _logger = logger;
    }

    /// <summary>The region's clusterwide key.</summary>
    public int Key => _handle.Key;

    /// <summary>The size asked for at creation; the region is backed by whole pages.</summary>
    public long Size => _handle.Size;

    /// <summary>The logical rail the region was allocated on.</summary>
    public int LogicalRail => _handle.LogicalRail;

    /// <summary>Whether the region was allocated with <see cref="ImcRegionFlags.Coherent"/>.</summary>
    public bool IsCoherent => _handle.Coherent;

    /// <summary>The region's permissions.</summary>
    public ImcPermissions Permissions => (ImcPermissions)_handle.Permissions;

    /// <summary>
    /// Attaches for broadcast transmit (<c>imc_asattach</c>, <c>IMC_TRANSMIT</c>): writes reach every other host
    /// attached for receive, and this host too with <see cref="ImcAttachFlags.Loopback"/>.
    /// </summary>
    /// <exception cref="ImcException">
    /// <see cref="ImcStatus.TransmitMapped"/>, <see cref="ImcStatus.ShareError"/>, <see cref="ImcStatus.NonShareError"/>,
    /// <see cref="ImcStatus.LoopbackError"/>, <see cref="ImcStatus.Permit"/>, <see cref="ImcStatus.NotAllocated"/>.
    /// </exception>
    public ImcTransmitWindow AttachTransmit(ImcShareMode mode = ImcShareMode.Shared, ImcAttachFlags flags = ImcAttachFlags.None)
    {
        CheckMode(mode);
        if ((flags & ~ImcAttachFlags.Loopback) != 0)
        {
            throw new ImcException(ImcStatus.BadParameter, $"unknown attach flags {flags} for region key {Key}");
        }

        return AttachTransmitCore(() => _session.AttachTransmit(_handle, mode == ImcShareMode.NonShared,
            (flags & ImcAttachFlags.Loopback) != 0));
    }

    /// <summary>Whether the region is direct (created from C; see <see cref="ImcContext"/>'s internal allocation).</summary>
    internal bool IsDirect => _handle.Direct;

    /// <summary>
    /// Attaches for broadcast transmit and returns the address of the direct region's one memory, into which plain
    /// stores reach every receiver on this machine (<c>imc_asattach</c> from C). <see cref="ImcStatus.NotSupported"/>
    /// for a region that is not direct.
    /// </summary>
    internal ImcTransmitWindow AttachTransmitDirect(ImcShareMode mode, ImcAttachFlags flags, out nint address)
    {
        if (!_handle.Direct)
        {
            throw new ImcException(ImcStatus.NotSupported,
                $"region key {Key} is not direct: it was created by a .NET program, whose writes go through the library, so " +
                "a plain store through a C pointer would reach no receiver; create the region from C first, or write with " +
                "imc_bcopy / imc_write32 / imc_write64");
        }

        var window = AttachTransmit(mode, flags);
        try
        {
            address = Boundary.Run(window.DirectAddress);
            return window;
        }
        catch
        {
            window.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Attaches for point-to-point transmit to <paramref name="hostName"/> (<c>imc_asattach_ptp</c>): writes reach
    /// that host only, never this one.
    /// </summary>
    /// <exception cref="ImcException">
    /// <see cref="ImcStatus.BadHost"/>, <see cref="ImcStatus.PointToPointError"/>, and those of <see cref="AttachTransmit"/>.
    /// </exception>
    public ImcTransmitWindow AttachTransmitTo(string hostName, ImcShareMode mode = ImcShareMode.Shared)
    {
        ArgumentNullException.ThrowIfNull(hostName);
        CheckMode(mode);
        return AttachTransmitCore(() => _session.AttachTransmitTo(_handle, hostName, mode == ImcShareMode.NonShared));
    }

    /// <summary>
    /// Attaches for receive (<c>imc_asattach</c>, <c>IMC_RECEIVE</c>). A non-coherent region's receive memory starts
    /// zeroed on a host's first attach; a coherent region's holds its current contents.
    /// </summary>
    /// <exception cref="ImcException">
    /// <see cref="ImcStatus.ReceiveMapped"/>, <see cref="ImcStatus.RxFull"/>, <see cref="ImcStatus.ShareError"/>,
    /// <see cref="ImcStatus.NonShareError"/>, <see cref="ImcStatus.Permit"/>, <see cref="ImcStatus.NotAllocated"/>.
    /// </exception>
    public ImcReceiveWindow AttachReceive(ImcShareMode mode = ImcShareMode.Shared)
    {
        CheckMode(mode);
        lock (_lock)
        {
            CheckAllocated();
            if (_receive is not null)
            {
                throw new ImcException(ImcStatus.ReceiveMapped, $"region key {Key} is already attached for receive by this process");
            }

            _receive = new ImcReceiveWindow(this, Boundary.Run(() => _session.AttachReceive(_handle, mode == ImcShareMode.NonShared)));
            Log.RegionAttached(_logger, Key, "receive");
            return _receive;
        }
    }

    /// <summary>Detaches both directions of this process (<c>imc_asdetach</c>).</summary>
    public void Detach()
    {
        ImcTransmitWindow? transmit;
        ImcReceiveWindow? receive;
        lock (_lock)
        {
            CheckAllocated();
            transmit = _transmit;
            receive = _receive;
        }

        transmit?.Dispose();
        receive?.Dispose();
        if (transmit is not null || receive is not null)
        {
            Log.RegionDetached(_logger, Key);
        }
    }

    /// <summary>
    /// Deallocates (<c>imc_asdealloc</c>): <see cref="ImcStatus.Attached"/> while this process is still attached.
    /// The space is freed when the last process in the cluster deallocates the region.
    /// </summary>
    public void Deallocate()
    {
        lock (_lock)
        {
            CheckAllocated();
            if (_transmit is not null || _receive is not null)
            {
                throw new ImcException(ImcStatus.Attached, $"region key {Key} is still attached by this process: call Detach first");
            }

            Boundary.Run(() => _session.DeallocateRegion(_handle));
            _deallocated = true;
            Log.RegionDeallocated(_logger, Key);
        }
    }

    /// <summary>Detaches if needed, then deallocates; never throws.</summary>
    public void Dispose()
    {
        try
        {
            lock (_lock)
            {
                if (_deallocated)
                {
                    return;
                }
            }

            Detach();
            Deallocate();
        }
        catch (ImcException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            lock (_lock)
            {
                _disposed = true; // from here on, every call throws ObjectDisposedException
            }
        }
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"region key {Key}, {Size} bytes, rail {LogicalRail}{(IsCoherent ? ", coherent" : "")}";

    internal void Detached(ImcTransmitWindow window)
    {
        lock (_lock)
        {
            if (ReferenceEquals(_transmit, window))
            {
                _transmit = null;
            }
        }
    }

    internal void Detached(ImcReceiveWindow window)
    {
        lock (_lock)
        {
            if (ReferenceEquals(_receive, window))
            {
                _receive = null;
            }
        }
    }

    private ImcTransmitWindow AttachTransmitCore(Func<Transmitter> attach)
    {
        lock (_lock)
        {
            CheckAllocated();
            if (_transmit is not null)
            {
                throw new ImcException(ImcStatus.TransmitMapped, $"region key {Key} is already attached for transmit by this process");
            }

            _transmit = new ImcTransmitWindow(this, Boundary.Run(attach));
            Log.RegionAttached(_logger, Key, "transmit");
            return _transmit;
        }
    }

    private void CheckAllocated()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_deallocated)
        {
            throw new ImcException(ImcStatus.NotAllocated, $"region key {Key} was deallocated by this process");
        }
    }

    private void CheckMode(ImcShareMode mode)
    {
        if (mode is not (ImcShareMode.Shared or ImcShareMode.NonShared))
        {
            throw new ImcException(ImcStatus.BadParameter, $"unknown share mode {(int)mode} for region key {Key}");
        }
    }
}
