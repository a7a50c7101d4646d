// A file picker with a drop zone and a preview. Images preview from a blob: URL (the only
// non-self source the page's CSP allows); a document (PDF or TIFF, which no browser draws in
// an <img>) shows its name and size here, and its pages as thumbnails from pages.js.

export const isPdf = (file) => file.type === "application/pdf" || /\.pdf$/i.test(file.name);
const isTiff = (file) => file.type === "image/tiff" || /\.tiff?$/i.test(file.name);
/** A file the gateway reads as pages: a PDF or a (multi-page) TIFF. */
export const isDocument = (file) => isPdf(file) || isTiff(file);

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Wires `input` (type=file) to a drop `zone` and a preview `figure` with `img` and `caption`. */
export function filePicker({ input, zone, figure, img, caption, onChange = () => {} }) {
  let url = null;
  let file = null;
  let note = "";

  const describe = () => {
    if (!file) return "";
    const kind = isPdf(file) ? "PDF" : isTiff(file) ? "TIFF" : img.naturalWidth ? `${img.naturalWidth}×${img.naturalHeight} px` : file.type;
    return [file.name, kind, formatBytes(file.size), note].filter(Boolean).join(" · ");
  };

  const show = (picked) => {
    if (url) URL.revokeObjectURL(url);
    url = null;
    file = picked || null;
    note = "";
    figure.hidden = !file;
    img.hidden = true;
    img.removeAttribute("src");
    if (file && !isDocument(file)) {
      url = URL.createObjectURL(file);
      img.alt = `Preview of ${file.name}`;
      img.onload = () => (caption.textContent = describe());
      img.src = url;
      img.hidden = false;
    }
    caption.textContent = describe();
    onChange(file);
  };

  input.addEventListener("change", () => show(input.files[0]));
  const over = (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  };
  zone.addEventListener("dragenter", over);
  zone.addEventListener("dragover", over);
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (event.dataTransfer.files.length > 0) {
      input.files = event.dataTransfer.files;
      show(input.files[0]);
    }
  });

  return {
    file: () => file,
    /** Adds a fact learnt later (e.g. "3 pages") to the caption. */
    setNote(text) {
      note = text;
      caption.textContent = describe();
    },
  };
}

/** The file as a data: URL (what chat requests carry). */
export function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}
