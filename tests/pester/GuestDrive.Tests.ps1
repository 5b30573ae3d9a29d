# The QemuGuest provider (issue 22): a guest's file system as a PowerShell drive, against real
# agents on this machine (Debian's qemu-ga, whose listing, mkdir, mv and rm go through
# guest-exec, and ours with its file extensions): the "guest" is this host, so what the drive
# shows and does is checked against the same folder seen locally. The hostile agent program lies
# in its listings: nothing it names may become a path outside the listed folder.

BeforeDiscovery {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    $script:Kinds = @('Stock') + @(if (Get-OurAgentPath) { 'Ours' })
}

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    . (Join-Path $PSScriptRoot 'AgentHelpers.ps1')
    function Get-Inode([string] $Path) { (& stat -c %i -- $Path) }
}

Describe 'A QemuGuest drive on the <_> agent' -ForEach $Kinds {
    BeforeAll {
        $script:Kind = $_
        $script:Agent, $script:S = Start-AgentSession -Kind $Kind -Name "drive-$Kind"
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-drive-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path "$T/tree/sub/deeper", "$T/elsewhere"
        Set-Content -Path "$T/tree/a.txt" -Value 'alpha' -NoNewline
        Set-Content -Path "$T/tree/b.conf" -Value 'bravo' -NoNewline
        Set-Content -Path "$T/tree/sub/c.conf" -Value 'charlie' -NoNewline
        Set-Content -Path "$T/tree/sub/deeper/d.conf" -Value 'delta' -NoNewline
        Set-Content -Path "$T/tree/log.txt" -Value (1..50 | ForEach-Object { "line $_" })
        Set-Content -Path "$T/elsewhere/keep.txt" -Value 'outside the drive'
        $null = New-Item -ItemType SymbolicLink -Path "$T/tree/link" -Target "$T/elsewhere"
        $script:D = "d$Kind"
        $null = New-PSDrive -Name $D -PSProvider QemuGuest -Root "$T/tree" -Session $S
    }

    AfterAll {
        Remove-PSDrive -Name $D -ErrorAction SilentlyContinue
        Stop-AgentSession $Agent -AllSessions
        Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
    }

    It 'New-PSDrive makes a drive of the provider, rooted at the guest folder' {
        $drive = Get-PSDrive $D
        $drive.Provider.Name | Should -Be 'QemuGuest'
        $drive.GuestRoot | Should -Be "$T/tree"
        # PowerShell's own root stays empty: see the next Describe for why.
        $drive.Root | Should -BeExactly ''
        $drive.VMName | Should -Be "drive-$Kind"
    }

    It 'Get-ChildItem writes the objects Get-VMGuestChildItem writes, with provider paths' {
        $items = @(Get-ChildItem "${D}:/")
        $items.Name | Should -Be @('a.txt', 'b.conf', 'link', 'log.txt', 'sub')
        $items[0] | Should -BeOfType 'QemuGuest.Cmdlets.Tasks.GuestChildItem'
        $items[0].FullName | Should -Be "$T/tree/a.txt"
        $items[0].Length | Should -Be 5
        $items[0].VMName | Should -Be "drive-$Kind"
        $items[0].PSDrive.Name | Should -Be $D
        ($items | Where-Object Name -EQ 'sub').PSIsContainer | Should -BeTrue
        ($items | Where-Object Name -EQ 'link').PSIsContainer | Should -BeFalse
        $direct = @(Get-VMGuestChildItem -Session $S "$T/tree")
        $items.FullName | Should -Be $direct.FullName
        $items.Mode | Should -Be $direct.Mode
    }

    It '-Recurse -Filter keeps matching names at every level and never follows the link; -Depth bounds it' {
        @(Get-ChildItem "${D}:/" -Recurse -Filter *.conf).FullName | Should -Be @("$T/tree/b.conf", "$T/tree/sub/c.conf", "$T/tree/sub/deeper/d.conf")
        @(Get-ChildItem "${D}:/" -Recurse).Name | Should -Not -Contain 'keep.txt'
        @(Get-ChildItem "${D}:/" -Recurse -Depth 1 -Filter *.conf).FullName | Should -Be @("$T/tree/b.conf", "$T/tree/sub/c.conf")
        # The root named without a slash, or with a backslash, has an empty provider path: PowerShell
        # asks the provider for its child name, which the base provider refused ("path" not valid).
        @(Get-ChildItem "${D}:\" -Recurse -Filter *.conf -ErrorAction Stop).Count | Should -Be 3
        @(Get-ChildItem "${D}:" -Recurse -Filter *.conf -ErrorAction Stop).Count | Should -Be 3
    }

    It 'Get-Item, Test-Path and Set-Location' {
        (Get-Item "${D}:/sub/c.conf").Length | Should -Be 7
        (Get-Item "${D}:/sub").Type | Should -Be 'Directory'
        (Get-Item "${D}:/").FullName | Should -Be "$T/tree"
        Test-Path "${D}:/a.txt" | Should -BeTrue
        Test-Path "${D}:/nothing.txt" | Should -BeFalse
        Test-Path "${D}:/sub" -PathType Container | Should -BeTrue
        Push-Location "${D}:/sub"
        try {
            @(Get-ChildItem).Name | Should -Be @('c.conf', 'deeper')
            (Get-Content ./c.conf) | Should -Be 'charlie'
        }
        finally { Pop-Location }
    }

    It 'Get-Content reads lines; -TotalCount stops early; -LastLines gives the end' {
        $all = @(Get-Content "${D}:/log.txt")
        $all.Count | Should -Be 50
        $all[49] | Should -Be 'line 50'
        @(Get-Content "${D}:/log.txt" -TotalCount 2) | Should -Be @('line 1', 'line 2')
        @(Get-Content "${D}:/log.txt" -LastLines 3) | Should -Be @('line 48', 'line 49', 'line 50')
        # PowerShell's own -Tail is refused for providers other than FileSystem: say so, not hang.
        { Get-Content "${D}:/log.txt" -Tail 3 -ErrorAction Stop } | Should -Throw '*Tail*'
    }

    It 'Get-Content -Wait follows the file and stops on Ctrl+C (Stop)' {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                    param($ModulePath, $Session, $Root)
                    Import-Module $ModulePath
                    # The same session: an agent socket serves one client at a time.
                    $null = New-PSDrive -Name f -PSProvider QemuGuest -Root $Root -Session $Session
                    Get-Content f:/log.txt -LastLines 1 -Wait
                }).AddArgument($env:QEMUGUEST_MODULE_PATH).AddArgument($S).AddArgument("$T/tree")
            $out = [Management.Automation.PSDataCollection[psobject]]::new()
            $in = [Management.Automation.PSDataCollection[psobject]]::new()
            $in.Complete()
            $async = $ps.BeginInvoke($in, $out)
            # An open PSDataCollection's enumerator waits for more: read it by index.
            function Get-Lines { for ($i = 0; $i -lt $out.Count; $i++) { "$($out[$i])" } }
            $deadline = [DateTime]::UtcNow.AddSeconds(90)
            while ($out.Count -lt 1 -and [DateTime]::UtcNow -lt $deadline -and -not $async.IsCompleted) { Start-Sleep -Milliseconds 200 }
            @(Get-Lines) | Should -Be @('line 50')
            Add-Content -Path "$T/tree/log.txt" -Value 'appended 1', 'appended 2'
            while ($out.Count -lt 3 -and [DateTime]::UtcNow -lt $deadline -and -not $async.IsCompleted) { Start-Sleep -Milliseconds 200 }
            @(Get-Lines) | Should -Be @('line 50', 'appended 1', 'appended 2')
            $async.IsCompleted | Should -BeFalse -Because 'it waits for more'
            $stop = $ps.BeginStop($null, $null)
            $stop.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(60)) | Should -BeTrue -Because 'Ctrl+C ends the wait'
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
        }
        finally {
            $ps.Dispose()
        }
    }

    It 'Set-Content and Add-Content replace the file in one rename, keeping its mode, leaving no temporary file' {
        Set-Content -Path "$T/tree/w.txt" -Value 'old'
        chmod 0640 "$T/tree/w.txt"
        $before = Get-Inode "$T/tree/w.txt"
        Set-Content "${D}:/w.txt" -Value 'one', 'two'
        Get-Content -Raw "$T/tree/w.txt" | Should -BeExactly "one`ntwo`n"
        Get-Inode "$T/tree/w.txt" | Should -Not -Be $before -Because 'a new file was renamed over it'
        (Get-Item "$T/tree/w.txt").UnixMode | Should -BeExactly '-rw-r-----'
        Add-Content "${D}:/w.txt" -Value 'three'
        Get-Content -Raw "$T/tree/w.txt" | Should -BeExactly "one`ntwo`nthree`n"
        Set-Content "${D}:/w.txt" -Value 'a', 'b' -NoNewline
        Get-Content -Raw "$T/tree/w.txt" | Should -BeExactly 'ab'
        Set-Content "${D}:/new.txt" -Value 'fresh'
        Get-Content -Raw "$T/tree/new.txt" | Should -BeExactly "fresh`n"
        @(Get-ChildItem -Force "$T/tree" -Filter '*.qgtmp-*') | Should -BeNullOrEmpty
        Remove-Item "$T/tree/w.txt", "$T/tree/new.txt"
    }

    It 'New-Item makes folders and files; Rename-Item and Move-Item never replace an item' {
        (New-Item "${D}:/made" -ItemType Directory).FullName | Should -Be "$T/tree/made"
        (New-Item "${D}:/made/f.txt" -ItemType File -Value 'hi').Length | Should -Be 2
        Get-Content -Raw "$T/tree/made/f.txt" | Should -BeExactly 'hi'
        { New-Item "${D}:/made/f.txt" -ItemType File -Value 'again' -ErrorAction Stop } | Should -Throw -ErrorId 'DestinationExists*'
        $null = New-Item "${D}:/made/deep/er" -ItemType Directory -Force
        "$T/tree/made/deep/er" | Should -Exist
        Rename-Item "${D}:/made/f.txt" g.txt
        "$T/tree/made/g.txt" | Should -Exist
        Set-Content -Path "$T/tree/made/h.txt" -Value 'h'
        { Rename-Item "${D}:/made/g.txt" h.txt -ErrorAction Stop } | Should -Throw -ErrorId '*DestinationExists*'
        Get-Content "$T/tree/made/h.txt" | Should -Be 'h'
        { Rename-Item "${D}:/made/g.txt" '../g.txt' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidArgument*'
        Move-Item "${D}:/made/g.txt" "${D}:/made/deep"
        "$T/tree/made/deep/g.txt" | Should -Exist
        Remove-Item -Recurse -Force "$T/tree/made"
    }

    It 'Remove-Item honours -WhatIf, removes a tree with -Recurse, and removes a link itself, never what it points to' {
        $null = New-Item -ItemType Directory "$T/tree/gone/inner"
        Set-Content "$T/tree/gone/inner/x.txt" 'x'
        $null = New-Item -ItemType SymbolicLink -Path "$T/tree/gone/out" -Target "$T/elsewhere"
        Remove-Item "${D}:/gone" -Recurse -WhatIf
        "$T/tree/gone/inner/x.txt" | Should -Exist
        Remove-Item "${D}:/gone" -Recurse -Confirm:$false
        "$T/tree/gone" | Should -Not -Exist
        "$T/elsewhere/keep.txt" | Should -Exist
        $null = New-Item -ItemType SymbolicLink -Path "$T/tree/link2" -Target "$T/elsewhere"
        Remove-Item "${D}:/link2" -Recurse -Confirm:$false
        "$T/tree/link2" | Should -Not -Exist
        "$T/elsewhere/keep.txt" | Should -Exist
    }

    It 'Remove-Item refuses a path through a link below the root, and the root itself' {
        { Remove-Item "${D}:/link/keep.txt" -ErrorAction Stop } | Should -Throw -ErrorId 'DestinationIsLink*'
        "$T/elsewhere/keep.txt" | Should -Exist
        { Remove-Item "${D}:/" -Recurse -Confirm:$false -ErrorAction Stop } | Should -Throw
        "$T/tree/a.txt" | Should -Exist
    }

    It 'paths outside the root or with .. left in them are refused' {
        { Get-Item -LiteralPath "QemuGuest\QemuGuest::$T/elsewhere/keep.txt" -ErrorAction Stop } | Should -Throw
        # PowerShell refuses a .. above the drive's root itself; either way it is not found.
        $answer = try { Test-Path "${D}:/../elsewhere/keep.txt" -ErrorAction Stop } catch { 'refused' }
        $answer | Should -BeIn @($false, 'refused')
    }

    It 'Get-Item pipes into Copy-VMGuestFile -GuestToLocal (PSPath and VMName bind)' {
        $local = Join-Path $T 'local'
        $null = New-Item -ItemType Directory $local
        $r = Get-Item "${D}:/sub/c.conf" | Copy-VMGuestFile -GuestToLocal -Destination "$local/" -Force -PassThru
        $r.Source | Should -Be "$T/tree/sub/c.conf"
        Get-Content -Raw "$local/c.conf" | Should -BeExactly 'charlie'
    }

    It 'a drive for -VMName of an open session, and Remove-PSDrive leaves that session open' {
        $null = New-PSDrive -Name "v$Kind" -PSProvider QemuGuest -Root / -VMName "drive-$Kind"
        Test-Path "v${Kind}:$T/tree/a.txt" | Should -BeTrue
        Remove-PSDrive "v$Kind"
        $S.State | Should -Be 'Opened'
    }

    It 'New-PSDrive names its errors: a relative root, a missing VM, neither -VMName nor -Session' {
        { New-PSDrive -Name r1 -PSProvider QemuGuest -Root 'srv' -Session $S -ErrorAction Stop } | Should -Throw -ErrorId 'RelativeGuestPath*'
        $saved = $env:QEMUGUEST_RELAY_DIR
        $env:QEMUGUEST_RELAY_DIR = Join-Path $T 'no-relay'
        try {
            { New-PSDrive -Name r2 -PSProvider QemuGuest -Root / -VMName no-such-vm-qg -ErrorAction Stop } | Should -Throw
        }
        finally { $env:QEMUGUEST_RELAY_DIR = $saved }
        { New-PSDrive -Name r3 -PSProvider QemuGuest -Root / -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidArgument*'
        Get-PSDrive -PSProvider QemuGuest | Where-Object Name -In 'r1', 'r2', 'r3' | Should -BeNullOrEmpty
    }
}

# As Get-ChildItem -Recurse does locally: a folder the guest may not read is one error naming it,
# and the listing goes on. Before, the stock agent's listing (find, exit 1) failed as a whole and
# ours stopped at that folder; and PowerShell's GetChildName asked the guest whether every listed
# item exists (a stat each, which wrote a second error for that folder on the stock agent).
Describe 'A folder the guest may not read, listed with -Recurse (<_> agent)' -ForEach $Kinds {
    BeforeAll {
        $script:Kind = $_
        $script:Agent, $script:S = Start-AgentSession -Kind $Kind -Name "denied-$Kind" -WithoutFileCapabilities
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-denied-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path "$T/a", "$T/b/locked/inner", "$T/c"
        Set-Content "$T/a/f" 'f'; Set-Content "$T/c/g" 'g'; Set-Content "$T/b/locked/inner/h" 'h'
        & chmod 000 "$T/b/locked"
        $script:D = "denied$Kind"
        $null = New-PSDrive -Name $D -PSProvider QemuGuest -Root $T -Session $S
        $script:Expected = 'a', 'a/f', 'b', 'b/locked', 'c', 'c/g' | ForEach-Object { "$T/$_" }
    }

    AfterAll {
        Remove-PSDrive -Name $D -ErrorAction SilentlyContinue
        Stop-AgentSession $Agent -AllSessions
        & chmod 755 "$T/b/locked"
        Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
    }

    It 'Get-ChildItem -Recurse lists the rest and writes one PermissionDenied error naming the folder' {
        $items = Get-ChildItem "${D}:/" -Recurse -ErrorVariable e -ErrorAction SilentlyContinue
        @($items.FullName | Sort-Object) | Should -Be $Expected
        $e.Count | Should -Be 1
        $e[0].FullyQualifiedErrorId | Should -BeLike 'PermissionDenied,*'
        $e[0].Exception.Message | Should -BeLike "*'$T/b/locked'*"
    }

    It 'Get-VMGuestChildItem -Recurse does the same' {
        $items = Get-VMGuestChildItem -Session $S $T -Recurse -ErrorVariable e -ErrorAction SilentlyContinue
        @($items.FullName | Sort-Object) | Should -Be $Expected
        $e.Count | Should -Be 1
        $e[0].FullyQualifiedErrorId | Should -BeLike 'PermissionDenied,*'
    }

    It 'listing the folder itself is that one error and no items' {
        $items = Get-ChildItem "${D}:/b/locked" -ErrorVariable e -ErrorAction SilentlyContinue
        $items | Should -BeNullOrEmpty
        $e.Count | Should -Be 1
        $e[0].FullyQualifiedErrorId | Should -BeLike 'PermissionDenied,*'
    }
}

Describe 'A QemuGuest drive writes new items in the guest, never on the host (<_> agent)' -ForEach $Kinds {
    # The agent sees its own empty tmpfs at this folder, the host its real folder: what lands in
    # which one shows who wrote it. With the guest root as PowerShell's drive root, PowerShell
    # handed Set-Content/Add-Content of a file that did not exist yet to the FileSystem provider
    # (a provider path starting with / is a Unix path to it), and the host got the file.
    BeforeAll {
        $script:Priv = Join-Path ([IO.Path]::GetTempPath()) ("qg-dpriv-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path $Priv
        $script:PA = Start-LocalAgent -Kind $_ -PrivateFolder $Priv
        $script:PS1 = New-VMGuestSession -ConnectionString $PA.ConnectionString -Name "dpriv-$_" -ErrorAction Stop
        $script:PD = "p$_"
        $null = New-PSDrive -Name $PD -PSProvider QemuGuest -Root / -Session $PS1
        # The tests step onto the drive; later test files must start where this one did, in a
        # folder that still exists (TestDrive is deleted with this container).
        $script:Before = Get-Location
    }

    AfterAll {
        Set-Location $Before
        Remove-PSDrive -Name $PD -ErrorAction SilentlyContinue
        $PS1 | Remove-VMGuestSession -Confirm:$false
        $PA | Stop-LocalAgent
        Remove-Item -Recurse -Force $Priv -ErrorAction SilentlyContinue
    }

    It 'Set-Content, Add-Content (absolute and relative to the location) and New-Item' {
        Set-Content "${PD}:$Priv/set.txt" -Value 'set'
        Add-Content "${PD}:$Priv/add.txt" -Value 'add'
        Set-Location "${PD}:$Priv"
        Set-Content rel.txt -Value 'rel'
        Set-Location $Before
        $null = New-Item "${PD}:$Priv/new.txt" -ItemType File -Value 'new'
        @(Get-ChildItem -Force $Priv) | Should -BeNullOrEmpty -Because 'nothing may land on the host'
        @(Get-ChildItem "${PD}:$Priv").Name | Should -Be @('add.txt', 'new.txt', 'rel.txt', 'set.txt')
        Get-Content "${PD}:$Priv/set.txt" | Should -BeExactly 'set'
        Get-Content "${PD}:$Priv/add.txt" | Should -BeExactly 'add'
        Get-Content "${PD}:$Priv/rel.txt" | Should -BeExactly 'rel'
    }

    It 'Resolve-Path and Get-Location give drive paths' {
        Set-Location "${PD}:$Priv"
        try { (Get-Location).Path | Should -BeExactly "${PD}:$Priv" }
        finally { Set-Location $Before }
        (Resolve-Path "${PD}:$Priv/set.txt").Path | Should -BeExactly "${PD}:$Priv/set.txt"
    }
}

Describe 'A QemuGuest drive on the hostile agent program' {
    BeforeAll {
        $script:Hostile, $script:H = Start-AgentSession -Kind Hostile -Name hostile-drive -ConnectTimeoutSec 5
        $script:W = Join-Path ([IO.Path]::GetTempPath()) ("qg-hdrive-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path $W
        function Set-Mode([string] $Mode) { Set-Content -Path $Hostile.ModeFile -Value $Mode }
    }

    AfterAll {
        Set-Mode 'normal'
        Stop-AgentSession $Hostile -AllSessions
        Remove-Item -Recurse -Force $W -ErrorAction SilentlyContinue
    }

    It '<Mode>: names that are not one component are InvalidGuestName errors, shown escaped; globbing cannot leave the folder' -ForEach @(
        @{ Mode = 'list-names' }, @{ Mode = 'find-names' }
    ) {
        Set-Mode $Mode
        $L = New-VMGuestSession -ConnectionString $Hostile.ConnectionString -Name hostile-drive -ConnectTimeoutSec 5
        try {
            $null = New-PSDrive -Name hx -PSProvider QemuGuest -Root $W -Session $L -TimeoutSec 10
            $items = @(Get-ChildItem hx:/tree -ErrorVariable err -ErrorAction SilentlyContinue)
            $items.Name | Should -Contain 'good.txt'
            foreach ($i in $items) {
                $i.FullName | Should -BeLike "$W/tree/*"
                $i.Name | Should -Not -Match '[\\/]'
                $i.Name | Should -Not -Be '..'
                $i.PSPath | Should -Not -Match '\.\.'
            }
            $ids = @($err | ForEach-Object { $_.FullyQualifiedErrorId.Split(',')[0] })
            $ids | Should -Contain 'InvalidGuestName'
            foreach ($e in $err) {
                $e.Exception.Message | Should -Not -Match "[`u{0}-`u{8}`u{b}-`u{1f}`u{7f}]"
            }
            # What Remove-Item hx:/tree/* would act on: PowerShell expands the wildcard through the
            # provider's child names, so every path must stay in the folder.
            $resolved = @(Resolve-Path hx:/tree/* -ErrorAction SilentlyContinue)
            $resolved.Count | Should -BeGreaterThan 0
            foreach ($r in $resolved) {
                # Provider paths are below the drive's root (its GuestRoot, $W): tree/NAME.
                $r.ProviderPath | Should -BeLike 'tree/*'
                $r.ProviderPath.Substring('tree/'.Length) | Should -Not -Match '[\\/]|^\.\.?$'
            }
            "$W/tree-abs", "$W/x" | Should -Not -Exist
        }
        finally {
            Remove-PSDrive hx -ErrorAction SilentlyContinue
            Remove-VMGuestSession -Session $L -Confirm:$false
            Set-Mode 'normal'
        }
    }

    It 'list-recurse: a listing that never ends stops with ListingLimitExceeded' {
        Set-Mode 'list-recurse'
        $L = New-VMGuestSession -ConnectionString $Hostile.ConnectionString -Name hostile-drive -ConnectTimeoutSec 5
        try {
            $null = New-PSDrive -Name hr -PSProvider QemuGuest -Root $W -Session $L -TimeoutSec 10
            $n = 0
            Get-ChildItem hr:/tree -Recurse -ErrorVariable err -ErrorAction SilentlyContinue | ForEach-Object { $n++ }
            @($err | ForEach-Object { $_.FullyQualifiedErrorId.Split(',')[0] }) | Should -Contain 'ListingLimitExceeded'
            $n | Should -BeLessOrEqual 1000000
        }
        finally {
            Remove-PSDrive hr -ErrorAction SilentlyContinue
            Remove-VMGuestSession -Session $L -Confirm:$false
            Set-Mode 'normal'
        }
    }
}
